"""MDE client code as users write it (msal, azure-identity, requests) against a real openmde
server over HTTPS, trusting the CA the server generated."""

import contextlib
import json
import os
import re
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import msal
import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientSecretCredential

SCOPE = "https://api.securitycenter.microsoft.com/.default"
ROOT = Path(__file__).resolve().parents[2]


def use_postgres_store_if_asked():
    """With OPENMDE_TEST_BACKEND=postgres, every openmde process of these tests (they inherit
    the environment) keeps its store in a new schema of OPENMDE_TEST_DATABASE_URL."""
    if os.environ.get("OPENMDE_TEST_BACKEND") != "postgres":
        return
    base = os.environ["OPENMDE_TEST_DATABASE_URL"]
    schema = f"python_{os.getpid()}_{int(time.time())}"
    subprocess.run(["psql", "-q", base, "-c", f"CREATE SCHEMA {schema}"], check=True)
    separator = "&" if "?" in base else "?"
    os.environ["OPENMDE_DATABASE_URL"] = f"{base}{separator}options=-c%20search_path%3D{schema}"


@pytest.fixture(scope="module")
def server():
    binary = os.environ.get("OPENMDE_BIN", str(ROOT / "target" / "debug" / "openmde"))
    use_postgres_store_if_asked()
    data_dir = tempfile.mkdtemp(prefix="openmde-py-")
    process = subprocess.Popen(
        [binary, "--data-dir", data_dir, "serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    line = process.stdout.readline()
    match = re.search(r"https://127\.0\.0\.1:(\d+)/api", line)
    assert match, f"unexpected banner: {line!r}"
    credentials = json.loads(Path(data_dir, "credentials.json").read_text())
    ca = str(Path(data_dir, "tls", "ca.pem"))
    # The sync stacks trust REQUESTS_CA_BUNDLE, the async ones SSL_CERT_FILE.
    os.environ["REQUESTS_CA_BUNDLE"] = ca
    os.environ["SSL_CERT_FILE"] = ca
    yield {"port": int(match.group(1)), "ca": ca, "dataDir": data_dir, "binary": binary, **credentials}
    process.terminate()
    process.wait(timeout=10)


def origin(server):
    return f"https://127.0.0.1:{server['port']}"


def get_machine(server, token):
    return requests.get(
        f"{origin(server)}/api/alerts/{server['sampleAlertId']}/machine",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def assert_machine(response):
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json; odata.metadata=minimal")
    body = response.json()
    keys = list(body)
    assert keys[:3] == ["@odata.context", "id", "mergedIntoMachineId"]
    assert keys[-2:] == ["ipAddresses", "vmMetadata"]
    assert body["@odata.context"].endswith("/api/$metadata#Machines/$entity")
    assert len(body["id"]) == 40


def msal_app(server, secret=None, tenant=None):
    return msal.ConfidentialClientApplication(
        server["clientId"],
        client_credential=secret or server["clientSecret"],
        authority=f"{origin(server)}/{tenant or server['tenantId']}",
        instance_discovery=False,
    )


def test_msal_confidential_client_v2(server):
    app = msal_app(server)
    result = app.acquire_token_for_client(scopes=[SCOPE])
    assert "access_token" in result, result
    assert result["token_type"] == "Bearer"
    assert result["expires_in"] > 3000
    assert_machine(get_machine(server, result["access_token"]))
    again = app.acquire_token_for_client(scopes=[SCOPE])
    assert again["token_source"] == "cache"


def test_msal_by_tenant_domain(server):
    result = msal_app(server, tenant=server["tenantDomain"]).acquire_token_for_client(scopes=[SCOPE])
    assert "access_token" in result, result


def test_msal_reports_entra_errors(server):
    result = msal_app(server, secret="not-the-secret").acquire_token_for_client(scopes=[SCOPE])
    assert result["error"] == "invalid_client"
    assert 7000215 in result["error_codes"]
    result = msal_app(server).acquire_token_for_client(scopes=["https://api.securitycenter.microsoft.com/Machine.Read"])
    assert result["error"] == "invalid_scope"
    assert 1002012 in result["error_codes"]
    with pytest.raises(ValueError):
        msal_app(server, tenant="nosuchtenant.onmicrosoft.com")


def test_azure_identity_client_secret_credential(server):
    credential = ClientSecretCredential(
        server["tenantId"], server["clientId"], server["clientSecret"],
        authority=f"127.0.0.1:{server['port']}", disable_instance_discovery=True,
    )
    token = credential.get_token(SCOPE)
    assert token.expires_on > time.time() + 3000
    assert_machine(get_machine(server, token.token))


def test_azure_identity_wrong_secret_fails_without_retries(server):
    credential = ClientSecretCredential(
        server["tenantId"], server["clientId"], "wrong",
        authority=f"127.0.0.1:{server['port']}", disable_instance_discovery=True,
    )
    started = time.time()
    with pytest.raises(ClientAuthenticationError) as error:
        credential.get_token(SCOPE)
    assert "AADSTS7000215" in str(error.value)
    assert time.time() - started < 2, "a retried 401 would take seconds"


def test_v1_token_endpoint_as_in_the_mde_powershell_samples(server):
    response = requests.post(
        f"{origin(server)}/{server['tenantId']}/oauth2/token",
        data={
            "resource": "https://api.securitycenter.microsoft.com",
            "client_id": server["clientId"],
            "client_secret": server["clientSecret"],
            "grant_type": "client_credentials",
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["expires_in"] == "3599"
    assert body["resource"] == "https://api.securitycenter.microsoft.com"
    assert_machine(get_machine(server, body["access_token"]))


def test_api_errors_use_the_mde_envelope(server):
    response = requests.get(f"{origin(server)}/api/alerts/nope/machine", timeout=10)
    assert response.status_code == 401
    error = response.json()["error"]
    assert list(error) == ["code", "message", "target"]
    assert error["code"] == "Unauthorized"


def test_requests_follows_next_links_through_a_filtered_list(server):
    token = msal_app(server).acquire_token_for_client([SCOPE])["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    params = {"$filter": "status ne 'Resolved' and severity in ('High', 'Medium')", "pageSize": "7",
              "$count": "true", "$select": "id,severity,status"}
    response = requests.get(f"{origin(server)}/api/alerts", params=params, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    first = response.json()
    expected = first["@odata.count"]
    assert expected > 7, first
    ids = []
    page = first
    while True:
        assert all(set(a) == {"id", "severity", "status"} for a in page["value"])
        assert all(a["status"] != "Resolved" and a["severity"] in ("High", "Medium") for a in page["value"])
        ids += [a["id"] for a in page["value"]]
        link = page.get("@odata.nextLink")
        if not link:
            break
        page = requests.get(link, headers=headers, timeout=10).json()
    assert len(ids) == expected == len(set(ids))
    count = requests.get(f"{origin(server)}/api/alerts/$count", params={"$filter": params["$filter"]},
                         headers=headers, timeout=10)
    assert count.text == str(expected)


MICROSOFT_HOSTS = {"login.microsoftonline.com", "api.securitycenter.microsoft.com"}


@contextlib.contextmanager
def hosts_override():
    """What the hosts-file line of `openmde trust` does, for this process only."""
    original = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        return original("127.0.0.1" if host in MICROSOFT_HOSTS else host, *args, **kwargs)

    socket.getaddrinfo = resolve
    try:
        yield
    finally:
        socket.getaddrinfo = original


@pytest.fixture(scope="module")
def on_port_443(server):
    """A second server on the same data directory, listening where Microsoft's hosts do."""
    process = subprocess.Popen(
        [server["binary"], "--data-dir", server["dataDir"], "serve", "--listen", "127.0.0.1:443", "--no-admin"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    for _ in range(100):
        if process.poll() is not None:
            message = process.stderr.read()
            if os.environ.get("CI") or "ermission" not in message:
                pytest.fail(f"cannot serve on port 443: {message}")
            pytest.skip("port 443 needs root or CAP_NET_BIND_SERVICE")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", 443), timeout=0.2):
            break
        time.sleep(0.1)
    yield
    process.terminate()
    process.wait(timeout=10)


def test_unmodified_client_code_through_the_hosts_file_and_the_trusted_ca(server, on_port_443):
    """The MDE documentation's Python sample, unchanged: Microsoft's authority and API host."""
    with hosts_override():
        app = msal.ConfidentialClientApplication(
            server["clientId"], client_credential=server["clientSecret"],
            authority=f"https://login.microsoftonline.com/{server['tenantId']}")
        result = app.acquire_token_for_client(scopes=[SCOPE])
        assert "access_token" in result, result
        url = f"https://api.securitycenter.microsoft.com/api/alerts/{server['sampleAlertId']}/machine"
        response = requests.get(url, headers={"Authorization": f"Bearer {result['access_token']}"}, timeout=10)
        assert_machine(response)
        assert response.json()["@odata.context"] == \
            "https://api.securitycenter.microsoft.com/api/$metadata#Machines/$entity"
        # get_accounts() asks instance discovery, and fails on anything but 2xx.
        public = msal.PublicClientApplication(
            server["clientId"], authority=f"https://login.microsoftonline.com/{server['tenantId']}")
        assert public.get_accounts() == []
        # azure-identity with its defaults (instance discovery on).
        credential = ClientSecretCredential(server["tenantId"], server["clientId"], server["clientSecret"])
        assert credential.get_token(SCOPE).token


def test_trust_prints_the_hosts_line_and_installs_the_ca(server, on_port_443):
    output = subprocess.run([server["binary"], "--data-dir", server["dataDir"], "trust"],
                            capture_output=True, text=True, check=True).stdout
    hosts_line = next(line for line in output.splitlines() if line.startswith("127.0.0.1 "))
    assert MICROSOFT_HOSTS <= set(hosts_line.split()[1:])
    assert "--listen 127.0.0.1:443" in output
    store = Path("/usr/local/share/ca-certificates")
    if os.geteuid() != 0 or not store.is_dir():
        if os.environ.get("CI"):
            pytest.fail("CI runs as root on Debian: trust --install must be tested")
        pytest.skip("installing into the system store needs root on Debian")
    installed = store / "openmde-local-ca.crt"
    try:
        done = subprocess.run([server["binary"], "--data-dir", server["dataDir"], "trust", "--install"],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert installed.read_bytes() == Path(server["ca"]).read_bytes()
        # The system bundle now trusts openmde's certificates.
        with hosts_override():
            token = msal_app(server).acquire_token_for_client([SCOPE])["access_token"]
            response = requests.get(
                f"https://api.securitycenter.microsoft.com/api/alerts/{server['sampleAlertId']}/machine",
                headers={"Authorization": f"Bearer {token}"}, verify="/etc/ssl/certs/ca-certificates.crt",
                timeout=10)
            assert_machine(response)
    finally:
        installed.unlink(missing_ok=True)
        subprocess.run(["update-ca-certificates", "--fresh"], capture_output=True)


def test_msal_username_password_then_a_silent_refresh_for_another_scope(server, on_port_443):
    created = json.loads(subprocess.run(
        [server["binary"], "--data-dir", server["dataDir"], "users", "create",
         "--upn", "carol@contoso.onmicrosoft.com", "--name", "Carol", "--group", "MDE administrators", "--json"],
        capture_output=True, text=True, check=True).stdout)
    mde = "https://api.securitycenter.microsoft.com"
    with hosts_override():
        app = msal.PublicClientApplication(
            server["clientId"], authority=f"https://login.microsoftonline.com/{server['tenantId']}")
        result = app.acquire_token_by_username_password(
            created["upn"], created["password"], scopes=[f"{mde}/Machine.Read"])
        assert "access_token" in result, result
        headers = {"Authorization": f"Bearer {result['access_token']}"}
        assert_machine(requests.get(f"{mde}/api/alerts/{server['sampleAlertId']}/machine", headers=headers, timeout=10))
        assert requests.get(f"{mde}/api/alerts", headers=headers, timeout=10).status_code == 403
        [account] = app.get_accounts()
        assert account["username"] == created["upn"]
        silent = app.acquire_token_silent([f"{mde}/Alert.Read"], account=account)
        assert silent and "access_token" in silent, silent
        alerts = requests.get(f"{mde}/api/alerts?$top=1",
                              headers={"Authorization": f"Bearer {silent['access_token']}"}, timeout=10)
        assert alerts.status_code == 200, alerts.text
        wrong = app.acquire_token_by_username_password(created["upn"], "wrong", scopes=[f"{mde}/Machine.Read"])
        assert wrong.get("error") == "invalid_grant" and 50126 in wrong["error_codes"], wrong


def openmde_json(server, *args):
    return json.loads(subprocess.run([server["binary"], "--data-dir", server["dataDir"], *args, "--json"],
                                     capture_output=True, text=True, check=True).stdout)


def test_msal_device_flow_answered_by_a_helper_at_the_verification_page(server):
    """Dave signs in with the device code flow; his role and device group limit what he sees."""
    import threading
    token = requests.post(f"{origin(server)}/{server['tenantId']}/oauth2/v2.0/token", timeout=10, data={
        "grant_type": "client_credentials", "client_id": server["clientId"],
        "client_secret": server["clientSecret"], "scope": SCOPE}).json()["access_token"]
    machine = get_machine(server, token).json()
    openmde_json(server, "groups", "create", "--name", "Dave's team")
    created = openmde_json(server, "users", "create", "--upn", "dave@contoso.onmicrosoft.com", "--name", "Dave",
                           "--group", "Dave's team")
    openmde_json(server, "roles", "create", "--name", "Readers", "--permission", "view-data", "--group", "Dave's team")
    openmde_json(server, "device-groups", "create", "--name", "Dave's devices", "--group", "Dave's team",
                 "--rule", f"name equals {machine['computerDnsName'].split('.')[0]}")
    openmde_json(server, "device-groups", "update", "Ungrouped devices (default)", "--group", "MDE administrators")
    app = msal.PublicClientApplication(server["clientId"], authority=f"{origin(server)}/{server['tenantId']}",
                                       instance_discovery=False)
    flow = app.initiate_device_flow(scopes=["https://api.securitycenter.microsoft.com/Machine.Read"])
    assert flow["user_code"] in flow["message"], flow

    def sign_in():  # the person at the browser
        time.sleep(1)
        page = requests.post(flow["verification_uri"], timeout=10, data={
            "user_code": flow["user_code"], "username": created["upn"], "password": created["password"]})
        assert page.status_code == 200, page.text

    helper = threading.Thread(target=sign_in)
    helper.start()
    result = app.acquire_token_by_device_flow(flow)
    helper.join()
    assert "access_token" in result, result
    assert_machine(get_machine(server, result["access_token"]))
    assert app.get_accounts()[0]["username"] == created["upn"]
    headers = {"Authorization": f"Bearer {result['access_token']}"}
    listed = requests.get(f"{origin(server)}/api/machines", headers=headers, timeout=10).json()["value"]
    assert [m["id"] for m in listed] == [machine["id"]], listed
    assert listed[0]["rbacGroupName"] == "Dave's devices"
    other = requests.get(f"{origin(server)}/api/machines?$top=2", headers={"Authorization": f"Bearer {token}"},
                         timeout=10).json()["value"]
    hidden = next(m for m in other if m["id"] != machine["id"])
    response = requests.get(f"{origin(server)}/api/machines/{hidden['id']}", headers=headers, timeout=10)
    assert response.status_code == 404 and response.json()["error"]["code"] == "ResourceNotFound", response.text


def test_async_azure_identity_client_secret_credential(server):
    import asyncio
    from azure.identity.aio import ClientSecretCredential as AsyncClientSecretCredential

    async def token():
        async with AsyncClientSecretCredential(server["tenantId"], server["clientId"], server["clientSecret"],
                                               authority=f"127.0.0.1:{server['port']}",
                                               disable_instance_discovery=True) as credential:
            return (await credential.get_token(SCOPE)).token

    assert_machine(get_machine(server, asyncio.run(token())))


def test_certificate_credentials_with_msal_and_azure_identity(server, tmp_path):
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID
    from azure.identity import CertificateCredential

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "soar playbook")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    cert_file = tmp_path / "cert.pem"
    cert_file.write_text(cert_pem)
    both = tmp_path / "both.pem"
    both.write_text(key_pem + cert_pem)
    subprocess.run([server["binary"], "--data-dir", server["dataDir"], "apps", "add-certificate",
                    "--client-id", server["clientId"], "--cert", str(cert_file)], check=True, capture_output=True)

    thumbprint = certificate.fingerprint(hashes.SHA1()).hex()
    app = msal.ConfidentialClientApplication(
        server["clientId"], client_credential={"private_key": key_pem, "thumbprint": thumbprint},
        authority=f"{origin(server)}/{server['tenantId']}", instance_discovery=False)
    result = app.acquire_token_for_client(scopes=[SCOPE])
    assert "access_token" in result, result
    assert_machine(get_machine(server, result["access_token"]))

    credential = CertificateCredential(server["tenantId"], server["clientId"], certificate_path=str(both),
                                       authority=f"127.0.0.1:{server['port']}", disable_instance_discovery=True)
    assert_machine(get_machine(server, credential.get_token(SCOPE).token))

    # A certificate the application does not have is refused.
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_pem = other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
    stranger = msal.ConfidentialClientApplication(
        server["clientId"], client_credential={"private_key": other_pem, "thumbprint": "00" * 20},
        authority=f"{origin(server)}/{server['tenantId']}", instance_discovery=False)
    refused = stranger.acquire_token_for_client(scopes=[SCOPE])
    assert refused.get("error") == "invalid_client" and 700027 in refused["error_codes"], refused
