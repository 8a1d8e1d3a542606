"""SQL for each aggregate: pypika-built, parameterised, one module per aggregate."""
