"""``feedmgr ise nodes|certs|status`` end to end against a fake ISE on loopback HTTPS."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import RunCli
from tests.ise import fakeise
from tests.ise.fakeise import CERTS, INFO, NODES, PASSWORD, PROXY, USER, FakeIse, certificate, node
from tests.ise.schema import problems, schema

PAN = node("ise-pan1", ["Profiler"], roles=["PrimaryAdmin", "PrimaryMonitoring"])
PSN1 = node("ise-psn1", ["Session", "Profiler"], ip="10.1.1.21")
PSN2 = node("ise-psn2", ["Session"], ip="10.1.1.22", status="Disconnected")


@pytest.fixture
def deployment(tmp_path: Path, fake_ise: FakeIse, ca_bundle: Path) -> Path:
    """A deployment file whose [ise] names the fake ISE and the test CA."""
    path = tmp_path / "deployment.toml"
    path.write_text(
        f'[ise]\nurl = "{fake_ise.url}"\nusername = "{USER}"\nca = "{ca_bundle}"\n',
        encoding="utf-8",
    )
    return path


def test_nodes_marks_session_nodes_as_psn(
    run_cli: RunCli, fake_ise: FakeIse, deployment: Path
) -> None:
    """Only nodes running the Session service are PSNs; every node is listed with status."""
    fake_ise.answer(NODES, {"response": [PAN, PSN1, PSN2], "version": "1.0.0"})
    result = run_cli("ise", "nodes", "--deployment", deployment, "--format", "json")
    assert result.code == 0, result.err
    rows = {row["hostname"]: row for row in result.json()["nodes"]}
    assert {name: row["psn"] for name, row in rows.items()} == {
        "ise-pan1": False,
        "ise-psn1": True,
        "ise-psn2": True,
    }
    assert rows["ise-psn2"]["nodeStatus"] == "Disconnected"
    text = run_cli("ise", "nodes", "--deployment", deployment)
    assert "ise-psn1.corp.example" in text.out
    assert fake_ise.seen[0][1] == fakeise.basic(USER, PASSWORD)


def test_certs_follow_every_page(run_cli: RunCli, fake_ise: FakeIse, deployment: Path) -> None:
    """Certificates spread over three pages are all listed, in ISE's order."""
    pages = [
        [
            certificate(f"cert{page}{n}", "EAP Authentication", "Fri Jan 01 00:00:00 UTC 2027")
            for n in range(2)
        ]
        for page in range(3)
    ]
    fake_ise.certificates("ise-psn1", pages)
    result = run_cli("ise", "certs", "ise-psn1", "--deployment", deployment, "--format", "json")
    assert result.code == 0, result.err
    names = [c["friendlyName"] for c in result.json()["nodes"][0]["certificates"]]
    assert names == ["cert00", "cert01", "cert10", "cert11", "cert20", "cert21"]


def test_certs_default_to_every_node(run_cli: RunCli, fake_ise: FakeIse, deployment: Path) -> None:
    """Without host names, the certificates of every node ISE lists are shown."""
    fake_ise.answer(NODES, {"response": [PAN, PSN1], "version": "1.0.0"})
    fake_ise.certificates("ise-pan1", [[certificate("admin", "Admin", "Fri Jan 01 2027")]])
    fake_ise.certificates("ise-psn1", [[certificate("portal", "Portal", "Fri Jan 01 2027")]])
    result = run_cli("ise", "certs", "--deployment", deployment)
    assert result.code == 0, result.err
    assert "ise-pan1  admin" in result.out
    assert "ise-psn1  portal" in result.out


def test_paging_loop_is_refused(run_cli: RunCli, fake_ise: FakeIse, deployment: Path) -> None:
    """A next-page link that points back to a page already read exits 3, not forever."""
    first = {
        "response": [certificate("a", "Admin", "2027")],
        "nextPage": {"rel": "next", "href": f"{fake_ise.url}{CERTS}ise-psn1?page=1&size=100"},
    }
    fake_ise.answer(
        CERTS + "ise-psn1",
        first,
        schema="system-certificate.response",
        query={"page": "1", "size": "100"},
    )
    result = run_cli("ise", "certs", "ise-psn1", "--deployment", deployment)
    assert result.code == 3
    assert "points back to a page read" in result.err


def test_paging_is_capped(
    run_cli: RunCli, fake_ise: FakeIse, deployment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that always has one more page is read up to the cap, then refused (exit 3)."""
    monkeypatch.setattr("feedmgr.ise.client.MAX_PAGES", 3)
    pages = [[certificate(f"c{n}", "Admin", "2027")] for n in range(5)]
    fake_ise.certificates("ise-psn1", pages)
    result = run_cli("ise", "certs", "ise-psn1", "--deployment", deployment)
    assert result.code == 3
    assert "run past 3 pages" in result.err


def test_next_page_on_another_host_is_refused(
    run_cli: RunCli, fake_ise: FakeIse, deployment: Path
) -> None:
    """A paging link to another origin is not followed: the credentials would go with it."""
    port = fake_ise.url.rsplit(":", 1)[1]
    first = {
        "response": [certificate("a", "Admin", "2027")],
        "nextPage": {"rel": "next", "href": f"https://localhost:{port}{CERTS}ise-psn1?page=2"},
    }
    fake_ise.answer(
        CERTS + "ise-psn1",
        first,
        schema="system-certificate.response",
        query={"page": "1", "size": "100"},
    )
    result = run_cli("ise", "certs", "ise-psn1", "--deployment", deployment)
    assert result.code == 3
    assert "leaves" in result.err
    assert all("page=2" not in path for path, _ in fake_ise.seen)


@pytest.mark.parametrize(
    ("status", "advice"),
    [
        (401, "API Settings"),
        (403, "ERS Operator"),
        (404, "enable Open API in Administration > System > Settings > API Settings"),
    ],
)
def test_refusals_are_explained_in_one_line(
    run_cli: RunCli, fake_ise: FakeIse, deployment: Path, status: int, advice: str
) -> None:
    """401/403/404 exit 4 with one line saying what to enable, never the password."""
    fake_ise.status(NODES, status)
    result = run_cli("ise", "nodes", "--deployment", deployment)
    assert result.code == 4
    lines = result.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("feedmgr: error: ")
    assert f"HTTP {status}" in lines[0]
    assert advice in lines[0]
    assert PASSWORD not in result.err


def test_disabled_ers_names_ers(run_cli: RunCli, fake_ise: FakeIse, deployment: Path) -> None:
    """A 404 on the ERS deployment-info call tells to enable ERS, not Open API."""
    fake_ise.answer(PROXY, {"response": {}, "version": "1.0.0"})
    fake_ise.status(INFO, 404)
    result = run_cli("ise", "status", "--deployment", deployment)
    assert result.code == 4
    assert "enable ERS in" in result.err


def test_wrong_password_is_refused_without_echo(
    run_cli: RunCli, fake_ise: FakeIse, deployment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wrong password gets ISE's 401 explained; neither password appears anywhere."""
    monkeypatch.setenv("FEEDMGR_ISE_PASSWORD", "not-the-password")
    fake_ise.answer(NODES, {"response": [PSN1], "version": "1.0.0"})
    result = run_cli("ise", "nodes", "--deployment", deployment)
    assert result.code == 4
    assert "did not accept the credentials of 'feedmgr-ro'" in result.err
    assert "not-the-password" not in result.err + result.out


def test_node_without_services_is_off_spec(
    run_cli: RunCli, fake_ise: FakeIse, deployment: Path
) -> None:
    """A node lacking the required 'services' exits 3 naming the field (Cisco's schema
    requires it, which the validator confirms)."""
    broken = {k: v for k, v in PSN1.items() if k != "services"}
    document = {"response": [broken], "version": "1.0.0"}
    assert problems(document, schema("deployment-node.response"))
    fake_ise.answer(NODES, document, off_spec=True)
    result = run_cli("ise", "nodes", "--deployment", deployment)
    assert result.code == 3
    assert "response.0.services" in result.err


def test_html_login_page_is_off_spec(run_cli: RunCli, fake_ise: FakeIse, deployment: Path) -> None:
    """An HTML page where JSON is due (a portal or login page) exits 3, saying it is not JSON."""
    fake_ise.server.expect_request(NODES).respond_with_data(
        "<html>login</html>", content_type="text/html"
    )
    result = run_cli("ise", "nodes", "--deployment", deployment)
    assert result.code == 3
    assert "not JSON" in result.err


def test_oversized_answer_is_refused(
    run_cli: RunCli,
    fake_ise: FakeIse,
    deployment: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An answer larger than the bound is refused (exit 3) instead of read into memory."""
    monkeypatch.setattr("feedmgr.ise.client.MAX_RESPONSE_BYTES", 200)
    fake_ise.answer(NODES, {"response": [PAN, PSN1, PSN2], "version": "1.0.0"})
    result = run_cli("ise", "nodes", "--deployment", deployment)
    assert result.code == 3
    assert "larger than 200 bytes" in result.err


def test_status_shows_proxy_and_posture_info_but_not_the_proxy_password(
    run_cli: RunCli, fake_ise: FakeIse, deployment: Path
) -> None:
    """The proxy ISE uses and ERS's postureInfo entries are shown; the proxy password is not."""
    fake_ise.answer(
        PROXY,
        {
            "response": {
                "fqdn": "proxy.corp.example",
                "port": 3128,
                "userName": "ise-proxy",
                "password": "proxy-Pa55",
                "passwordRequired": True,
                "bypassHosts": "*.corp.example",
            },
            "version": "1.0.0",
        },
    )
    entry = {"name": "postureFeed", "value": {"mode": "online"}, "declaredType": "java.lang.Object"}
    fake_ise.answer(INFO, {"ERSDeploymentInfo": {"postureInfo": {"content": [entry]}}})
    text = run_cli("ise", "status", "--deployment", deployment)
    assert text.code == 0, text.err
    assert "proxy: proxy.corp.example:3128 as ise-proxy" in text.out
    assert 'posture info: postureFeed = {"mode": "online"}' in text.out
    as_json = run_cli("ise", "status", "--deployment", deployment, "--format", "json")
    assert as_json.json()["proxy"]["fqdn"] == "proxy.corp.example"
    assert "proxy-Pa55" not in text.out + as_json.out


def test_password_in_the_file_is_refused_without_echo(run_cli: RunCli, tmp_path: Path) -> None:
    """A password written into [ise] is refused (exit 3) and its value is not repeated."""
    path = tmp_path / "deployment.toml"
    path.write_text(
        '[ise]\nurl = "https://ise.corp.example"\nusername = "u"\npassword = "Hunter2-x"\n',
        encoding="utf-8",
    )
    result = run_cli("ise", "nodes", "--deployment", path)
    assert result.code == 3
    assert "password_env" in result.err
    assert "Hunter2-x" not in result.err


def test_no_password_and_no_terminal_names_the_variable(
    run_cli: RunCli, deployment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the variable and without a terminal to prompt on, exit 2 naming the variable."""
    monkeypatch.delenv("FEEDMGR_ISE_PASSWORD")
    result = run_cli("ise", "nodes", "--deployment", deployment)
    assert result.code == 2
    assert "FEEDMGR_ISE_PASSWORD" in result.err


def test_plain_http_url_is_refused(run_cli: RunCli, tmp_path: Path) -> None:
    """An http:// ISE URL is a usage error (exit 2); nothing is sent in clear."""
    result = run_cli("ise", "nodes", "--url", "http://ise.corp.example", "--username", "u")
    assert result.code == 2
    assert "not an https:// URL; ISE is read over HTTPS only" in result.err


def test_ca_bundle_is_the_only_trust_even_with_requests_ca_bundle_set(
    run_cli: RunCli,
    *,
    fake_ise: FakeIse,
    deployment: Path,
    ca_bundle: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--ca-bundle naming a CA that did not sign ISE's certificate fails the connection (exit
    4), even when $REQUESTS_CA_BUNDLE names the CA that did."""
    import trustme

    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_bundle))
    fake_ise.answer(NODES, {"response": [PSN1], "version": "1.0.0"})
    result = run_cli("ise", "nodes", "--deployment", deployment, "--ca-bundle", other)
    assert result.code == 4, result.out
    assert "TLS certificate not trusted" in result.err
    assert fake_ise.seen == []


def test_unusable_proxy_variable_is_a_usage_error(
    run_cli: RunCli, fake_ise: FakeIse, deployment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTPS_PROXY naming a SOCKS proxy makes 'ise nodes' exit 2 naming the variable; ISE is
    not contacted."""
    monkeypatch.setenv("HTTPS_PROXY", "socks5h://127.0.0.1:1080")
    result = run_cli("ise", "nodes", "--deployment", deployment)
    assert result.code == 2, result.err
    assert result.err.startswith("feedmgr: error: HTTPS_PROXY: a proxy must be given as http://")
    assert fake_ise.seen == []


@pytest.mark.parametrize(
    "url",
    [
        "http://admin:Secr3tPW@ise.corp.example",
        "https://admin:Secr3tPW@ise-pan.corp.example/admin/",
        "https://admin:Secr3tPW@ise-pan.corp.example",
    ],
)
def test_url_with_credentials_is_refused_without_echo(run_cli: RunCli, url: str) -> None:
    """An ISE URL carrying a password is refused (exit 2) without repeating the password,
    whatever else is wrong with it."""
    result = run_cli("ise", "nodes", "--url", url, "--username", "u")
    assert result.code == 2
    assert "credentials" in result.err
    assert "Secr3tPW" not in result.err + result.out


def test_untrusted_ise_names_the_deployment_file_key(
    run_cli: RunCli, fake_ise: FakeIse, tmp_path: Path
) -> None:
    """An ISE certificate the system store does not trust is explained with the settings an
    ISE admin has: --ca-bundle or ca in [ise] (not feed.ca_bundle alone)."""
    path = tmp_path / "deployment.toml"
    path.write_text(f'[ise]\nurl = "{fake_ise.url}"\nusername = "{USER}"\n', encoding="utf-8")
    result = run_cli("ise", "nodes", "--deployment", path)
    assert result.code == 4
    assert "TLS certificate not trusted" in result.err
    assert "pass --ca-bundle FILE or set ca in [ise]" in result.err
