"""/docs works without the internet: Swagger UI's assets come from intake itself, and the
page can authorise with an X-API-Key."""

import re

from support.intake import Harness


async def test_the_docs_page_names_no_outside_host_and_its_assets_are_served(
    intake: Harness,
) -> None:
    page = await intake.http.get("/docs")
    assert page.status_code == 200
    html = page.text
    assert "://" not in html, "the docs page must not load anything from another host"
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert "/docs/assets/swagger-ui-bundle.js" in assets
    assert "/docs/assets/swagger-ui.css" in assets
    for asset in assets:
        response = await intake.http.get(asset)
        assert response.status_code == 200, asset
        assert len(response.content) > 1000, asset
    assert "'/openapi.json'" in html or '"/openapi.json"' in html
    assert (await intake.http.get("/redoc")).status_code == 404  # ReDoc loads from a CDN


async def test_the_api_declares_its_key_so_the_docs_page_can_authorise(intake: Harness) -> None:
    document = (await intake.http.get("/openapi.json")).json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "A unit's, operator's or Open311 client's API key",
    }
    read = document["paths"]["/api/v1/tickets/{ticket_id}"]["get"]
    assert {"ApiKey": []} in read["security"]
