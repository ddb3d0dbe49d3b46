"""One sandbox serves every façade: WAHA, Evolution API and the Cloud API's Graph."""
import requests


def test_one_sandbox_serves_all_facades(wa):
    assert requests.get(wa.waha_url + "/api/server/version", headers=wa.waha_headers, timeout=10).status_code == 200
    assert requests.get(wa.evolution_url + "/", timeout=10).json()["version"] == "2.3.7"
    number = wa.state()["graph"]["numbers"][0]["phone_number_id"]
    assert requests.get(f"{wa.graph_url}/v21.0/{number}", headers=wa.graph_headers, timeout=10).status_code == 200
