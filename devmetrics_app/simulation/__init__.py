"""A simulated organisation, as GitHub webhook deliveries (`devmetrics demo`, benchmarks).

`generate_org(seed=..., scale=..., now=...)` returns `Delivery` objects (event, delivery_id,
payload) in GitHub's real payload shapes (`shapes`, shared with the tests' fixtures).
"""

from devmetrics_app.simulation.delivery import Delivery, delivery_guid, write_jsonl
from devmetrics_app.simulation.org import INSTALLATION_ID, ORG_LOGIN, generate_org

__all__ = ["INSTALLATION_ID", "ORG_LOGIN", "Delivery", "delivery_guid", "generate_org", "write_jsonl"]
