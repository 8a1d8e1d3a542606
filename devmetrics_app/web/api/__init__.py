"""The JSON REST API, one module per resource. Every handler scopes its queries by the
installations the caller may see (web/tenancy.py); ids of other installations answer 404."""
