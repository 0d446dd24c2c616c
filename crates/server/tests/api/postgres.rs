//! PostgreSQL servers of the tests' own, and TLS to PostgreSQL with libpq's `sslmode`s.

use openmde_store::Store;

/// A PostgreSQL server of the test's own (`initdb` in a temporary directory), to stop as a
/// crash would (`pg_ctl -m immediate`) and start again, while other tests keep theirs.
pub struct OwnPostgres {
    dir: tempfile::TempDir,
    port: u16,
}

impl OwnPostgres {
    /// The server binaries of the machine's PostgreSQL (Debian keeps them by version).
    fn bin(name: &str) -> std::path::PathBuf {
        let versions = std::fs::read_dir("/usr/lib/postgresql").expect("PostgreSQL (CI installs it)");
        let mut found: Vec<std::path::PathBuf> = versions
            .filter_map(|v| v.ok().map(|v| v.path().join("bin").join(name)))
            .filter(|path| path.exists())
            .collect();
        found.sort();
        found.pop().expect("PostgreSQL's server binaries")
    }

    /// A server binary, run as the `postgres` user when this is root (PostgreSQL refuses root).
    fn command(name: &str) -> std::process::Command {
        let root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        if root {
            let mut command = std::process::Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(Self::bin(name));
            command
        } else {
            std::process::Command::new(Self::bin(name))
        }
    }

    fn run(&self, name: &str, args: &[&str]) {
        let output = Self::command(name).args(args).output().unwrap();
        assert!(
            output.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// A new server; with `tls` (certificate chain and key, PEM), it takes TLS connections.
    pub fn start(tls: Option<(&str, &str)>) -> OwnPostgres {
        let dir = tempfile::tempdir().unwrap();
        // For root, who runs the server as `postgres`; anyone else owns the directory already.
        let _ = std::process::Command::new("chown")
            .arg("postgres")
            .arg(dir.path())
            .status();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let postgres = OwnPostgres { dir, port };
        let data = postgres.data();
        postgres.run(
            "initdb",
            &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"],
        );
        if let Some((chain, key)) = tls {
            let data = std::path::Path::new(&data);
            std::fs::write(data.join("server.crt"), chain).unwrap();
            openmde::bootstrap::write_private(&data.join("server.key"), key).unwrap();
            let settings = "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n";
            let mut conf = std::fs::OpenOptions::new()
                .append(true)
                .open(data.join("postgresql.conf"))
                .unwrap();
            std::io::Write::write_all(&mut conf, settings.as_bytes()).unwrap();
            // The server reads its key only if it owns it.
            let _ = std::process::Command::new("chown")
                .arg("postgres")
                .args([data.join("server.crt"), data.join("server.key")])
                .status();
        }
        postgres.up();
        postgres
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub fn up(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        self.run(
            "pg_ctl",
            &["-D", &self.data(), "-o", &options, "-l", &log, "-w", "start"],
        );
    }

    /// Stops at once, as a crash would: open transactions are lost, committed ones are in the WAL.
    pub fn crash(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "immediate", "-w", "stop"]);
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = Self::command("pg_ctl")
            .args(["-D", &self.data(), "-m", "immediate", "stop"])
            .output();
    }
}

/// Whether the connections of `application` to the server are encrypted (none: `None`).
async fn encrypted(postgres: &OwnPostgres, application: &str) -> Option<bool> {
    let url = format!("{}?sslmode=disable", postgres.url());
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let row = client
        .query_one(
            "SELECT bool_and(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a ON a.pid = s.pid
             WHERE a.application_name = $1",
            &[&application],
        )
        .await
        .unwrap();
    row.get(0)
}

#[tokio::test]
async fn stores_connect_over_tls_as_sslmode_says_and_check_the_certificate_when_asked() {
    if crate::helpers::test_database().is_none() {
        eprintln!("OPENMDE_TEST_DATABASE_URL is not set: skipping a PostgreSQL test");
        return;
    }
    let (ca_dir, other_ca_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let material = openmde::tls::issue_from_local_ca(ca_dir.path(), &[]).unwrap();
    openmde::tls::issue_from_local_ca(other_ca_dir.path(), &[]).unwrap();
    let postgres = OwnPostgres::start(Some((&material.chain_pem, &material.key_pem)));
    // The certificate names localhost (and 127.0.0.1); verify-full checks it against the URL's host.
    let base = postgres.url().replace("127.0.0.1", "localhost");
    let root = |dir: &tempfile::TempDir| dir.path().join("ca.pem").display().to_string();
    let open = |query: String| {
        let url = format!("{base}?{query}");
        async move { openmde_store::postgres::PgStore::open(&url, 1).await }
    };

    let verified = open(format!(
        "sslmode=verify-full&sslrootcert={}&application_name=verified",
        root(&ca_dir)
    ))
    .await
    .unwrap();
    verified.tenants().await.unwrap();
    assert_eq!(encrypted(&postgres, "verified").await, Some(true));

    for query in [
        format!("sslmode=verify-full&sslrootcert={}", root(&other_ca_dir)),
        format!("sslmode=verify-ca&sslrootcert={}", root(&other_ca_dir)),
        format!("sslmode=require&sslrootcert={}", root(&other_ca_dir)),
    ] {
        let refused = open(query.clone()).await.err().expect("a certificate of another CA");
        assert!(
            matches!(refused, openmde_store::StoreError::Unavailable(_)),
            "{query}: {refused}"
        );
    }

    // require and prefer encrypt without checking; disable does not encrypt.
    for (mode, expected) in [("require", true), ("prefer", true), ("disable", false)] {
        let store = open(format!("sslmode={mode}&application_name={mode}")).await.unwrap();
        store.tenants().await.unwrap();
        assert_eq!(encrypted(&postgres, mode).await, Some(expected), "sslmode={mode}");
    }
}
