"""The operator page in Debian's Chromium: sign in with a token, search on the map, open a product, submit a
job order and watch it finish, promote a GIPP with evidence; a viewer gets no write controls."""

from __future__ import annotations

import re
import time
from typing import Any

import numpy as np
from playwright.sync_api import expect

from viq_api_procs import ScaleImage
from viq_browser_testlib import Server
from viq_host.testing.factories import make_job_order, write_geotiff


def wait_loaded(img: Any, timeout: float = 20.0) -> list[int]:
    """Wait until an <img> has decoded (polled from Python: the page's CSP forbids eval); its natural size."""
    deadline = time.monotonic() + timeout
    while True:
        size: list[int] = img.evaluate("i => [i.naturalWidth, i.naturalHeight]")
        if size[0] > 0 or time.monotonic() > deadline:
            return size
        time.sleep(0.05)


def sign_in(page: Any, server: Server, role: str = "operator") -> None:
    """Open the page and sign in with the role's token."""
    page.goto(server.url + "/")
    expect(page.locator("#signin")).to_be_visible()
    page.fill("#token", server.tokens[role])
    page.click("#signin-form button[type=submit]")
    expect(page.locator("#who-name")).to_have_text(f"web-{role} ({role})")


def test_sign_in_refuses_a_wrong_token_then_accepts_the_right_one(page: Any, server: Server, shot: Any) -> None:
    """A wrong token shows an error and no tabs; the right one shows the jobs dashboard."""
    page.goto(server.url + "/")
    page.fill("#token", "viq_00000000." + "A" * 43)
    page.click("#signin-form button[type=submit]")
    expect(page.locator("#signin-msg")).to_contain_text("Sign-in failed")
    expect(page.locator("#tabs")).to_be_hidden()
    sign_in(page, server)
    expect(page.locator("#tab-jobs")).to_be_visible()
    shot("01-signed-in")


def test_search_on_the_map_and_open_a_product(page: Any, server: Server, shot: Any) -> None:
    """Searching by type draws one footprint per match and lists them; a product shows its quicklook and lineage."""
    sign_in(page, server, "viewer")
    page.click("nav button[data-tab=map]")
    expect(page.locator("#f-type option[value=VSC_L2VALD]")).to_have_count(1)
    page.select_option("#f-type", "VSC_L2VALD")
    page.click("#search-btn")
    expected = [p["id"] for p in server.seed.products if p["type"] == "VSC_L2VALD"]
    expect(page.locator("#results tbody tr")).to_have_count(len(expected))
    expect(page.locator("#map path.leaflet-interactive")).to_have_count(len(expected))
    expect(page.locator("#search-msg")).to_have_text(f"{len(expected)} shown of {len(expected)}")
    ids = [int(x) for x in page.locator("#results tbody tr td:first-child").all_inner_texts()]
    assert ids == sorted(expected)
    shot("02-map-search")
    page.select_option("#f-type", "VSC_L1VALD")
    page.fill("#f-start", "2021-02-20")
    page.fill("#f-stop", "2021-03-10")
    page.click("#search-btn")
    row = page.locator(f"#results tbody tr[data-product='{server.seed.scene_id}']")
    expect(row).to_have_count(1)
    row.click()
    expect(page.locator("#tab-product")).to_be_visible()
    img = page.locator("#quicklook-img")
    expect(img).to_have_attribute("src", re.compile("^blob:"))
    assert wait_loaded(img) == list(server.seed.scene_pixels.shape[::-1])
    expect(page.locator("#product-view")).to_contain_text(f"#{server.seed.derived_id}")  # used by
    shot("03-product")


def test_submit_a_job_order_and_watch_it_finish(page: Any, server: Server, shot: Any, tmp_path: Any) -> None:
    """A job order chosen in the form validates, submits, and its row turns SUCCEEDED without reloading, pushed
    by the server-sent events stream: the dashboard says "live" and makes no polling request meanwhile."""
    polls: list[str] = []
    page.on("request", lambda req: polls.append(req.url) if "/api/jobs?limit" in req.url else None)
    sign_in(page, server)
    expect(page.locator("#jobs-live")).to_have_text("live")
    image = write_geotiff(server.api.settings.home / "data" / "web.tif", np.ones((8, 8), dtype=np.uint16) * 7)
    order = make_job_order(ScaleImage, tmp_path / "web-order.xml", inputs={"image": [image]},
                           params={"gain": 4.0, "sleep": 1.5})
    page.set_input_files("#order-file", str(order))
    page.click("#validate-btn")
    expect(page.locator("#submit-msg")).to_contain_text("valid: t-api-scale 01.00")
    page.click("#submit-btn")
    expect(page.locator("#submit-msg")).to_contain_text("queued")
    job_id = re.search(r"job (\S+) queued", page.inner_text("#submit-msg")).group(1)  # type: ignore[union-attr]
    state = page.locator(f"#jobs-table tr[data-job='{job_id}'] .state")
    expect(state).to_have_text(re.compile("QUEUED|RUNNING"))
    expect(state).to_have_text("RUNNING", timeout=30_000)
    shot("04-job-running")
    polled = len(polls)
    expect(state).to_have_text("SUCCEEDED", timeout=60_000)
    assert len(polls) == polled, polls  # the 1.5 s job sleep would have seen a poll every 1.5 s
    expect(page.locator("#jobs-live")).to_have_text("live")
    expect(page.locator("#job-detail")).to_contain_text("scaled by 4.0")
    expect(page.locator("#job-detail")).to_contain_text(f"snr_B03 = {7 * 4.0:g}")  # mean of 7 scaled by 4
    shot("05-job-succeeded")
    audit = [a for a in server.api.runtime.store.audit_trail(limit=50) if a.action == "job.submit"]
    assert audit and audit[0].target == f"job:{job_id}" and audit[0].actor == "api:web-operator"


def test_plan_a_job_from_the_catalog_then_submit_it(page: Any, server: Server, shot: Any) -> None:
    """The plan form asks the catalog for the processor's inputs: the seeded VENTOUX scene of 2021-03-01 is chosen
    by the port's rule, the order naming it fills the text box, and it submits and runs to SUCCEEDED."""
    sign_in(page, server)
    page.fill("#plan-proc", "t-api-scale")
    page.fill("#plan-start", "2021-02-25")
    page.fill("#plan-stop", "2021-03-05")
    page.fill("#plan-site", "VENTOUX")
    page.click("#plan-btn")
    msg = page.locator("#submit-msg")
    expect(msg).to_contain_text("planned: t-api-scale 01.00")
    expect(msg).to_contain_text(f"image (LatestValidityClosest): #{server.seed.scene_id} VE_VM01_VSC_L1VALD_VENTOUX")
    assert "VE_VM01_VSC_L1VALD_VENTOUX_20210301.tif" in page.input_value("#order-text")
    shot("05b-job-planned")
    page.click("#submit-btn")
    expect(msg).to_contain_text("queued")
    job_id = re.search(r"job (\S+) queued", page.inner_text("#submit-msg")).group(1)  # type: ignore[union-attr]
    expect(page.locator(f"#jobs-table tr[data-job='{job_id}'] .state")).to_have_text("SUCCEEDED", timeout=60_000)
    page.fill("#plan-site", "NOWHERE")
    page.click("#plan-btn")
    expect(msg).to_contain_text("cannot plan")
    expect(msg).to_contain_text("port 'image'")


def test_promote_a_gipp_with_evidence(page: Any, server: Server, shot: Any) -> None:
    """The bare candidate is refused without evidence; with evidence in the form it becomes TEST."""
    sign_in(page, server)
    page.click("nav button[data-tab=gipps]")
    gid = server.seed.gipp_ids[2]
    page.click(f"#gipp-table tr[data-gipp='{gid}']")
    expect(page.locator("#promote-form")).to_be_visible()
    page.select_option("#diff-other", str(server.seed.gipp_ids[0]))
    page.click("#diff-btn")
    expect(page.locator("#diff-out")).to_contain_text(f"{server.seed.dark_values[0].size}/"
                                                      f"{server.seed.dark_values[0].size} changed")
    assert wait_loaded(page.locator("#diff-out img"))[0] > 300  # the per-detector difference plot
    page.fill("#p-reason", "dark campaign 2021-05")
    page.click("#promote-btn")
    expect(page.locator("#promote-msg")).to_contain_text("no validation result")
    shot("06-promotion-refused")
    page.fill("#p-metric", "residual_striping")
    page.fill("#p-value", "0.012")
    page.fill("#p-threshold", "0.05")
    page.fill("#p-note", "job 20210501 striping report")
    page.click("#promote-btn")
    expect(page.locator("#promoted-note")).to_contain_text("promoted to TEST")
    expect(page.locator(f"#gipp-table tr[data-gipp='{gid}']")).to_contain_text("TEST")
    assert server.api.runtime.host.gipps.get(gid).status == "TEST"
    expect(page.locator("#gipp-detail")).to_contain_text("residual_striping = 0.012")
    shot("07-gipp-promoted")


def test_trends_and_audit_pages(page: Any, server: Server, shot: Any) -> None:
    """The trend plot of snr B07 renders with its limits and alerts; the audit tab lists the writes."""
    sign_in(page, server, "viewer")
    page.click("nav button[data-tab=trends]")
    expect(page.locator("#t-name option[value=snr]")).to_have_count(1)
    page.select_option("#t-name", "snr")
    page.fill("#t-band", "B07")
    page.click("#trend-form button[type=submit]")
    assert wait_loaded(page.locator("#trend-img"))[0] > 400
    low = [v for n, b, _, v in server.seed.measurements if n == "snr" and b == "B07" and v < 100.0]
    expect(page.locator("#trend-alerts tr.alert-row")).to_have_count(len(low))
    shot("08-trends")
    page.click("nav button[data-tab=audit]")
    expect(page.locator("#audit-table tbody tr").first).to_be_visible()
    shot("09-audit")


def test_viewer_sees_no_write_controls(page: Any, server: Server) -> None:
    """A viewer's GIPP page has no promotion form and the jobs table no cancel buttons."""
    sign_in(page, server, "viewer")
    page.click("nav button[data-tab=gipps]")
    page.click(f"#gipp-table tr[data-gipp='{server.seed.gipp_ids[1]}']")
    expect(page.locator("#gipp-detail")).to_contain_text("Promotion needs the operator role")
    expect(page.locator("#promote-form")).to_have_count(0)


def test_dashboard_falls_back_to_polling_without_the_stream(page: Any, server: Server) -> None:
    """When the event stream cannot be opened (refused by a proxy, say) the dashboard polls GET /api/jobs."""
    page.route("**/api/jobs/events*", lambda route: route.fulfill(status=502, body="bad gateway"))
    polls: list[str] = []
    page.on("request", lambda req: polls.append(req.url) if "/api/jobs?limit" in req.url else None)
    sign_in(page, server, "viewer")
    expect(page.locator("#jobs-live")).to_have_text("polling")
    expect(page.locator("#jobs-refreshed")).to_contain_text("refreshed")
    deadline = time.monotonic() + 10
    while len(polls) < 3 and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    assert len(polls) >= 3
