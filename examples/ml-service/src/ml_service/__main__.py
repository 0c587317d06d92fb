"""Call the service once in-process and print the answer."""

import json

from fastapi.testclient import TestClient

from ml_service import app

response = TestClient(app).get("/summary")
response.raise_for_status()
print(json.dumps(response.json(), indent=2, sort_keys=True))
