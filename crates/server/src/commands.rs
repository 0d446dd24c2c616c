//! What each subcommand does; `main` only parses and calls [`run`].

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use tracing_subscriber::EnvFilter;

use crate::bootstrap::{self, Credentials, DataDir};
use crate::cli::{
    AppsCommand, Cli, Command, CreateAppArgs, CreateUserArgs, GenerateArgs, ImportArgs, KeysCommand, ServeArgs,
    UsersCommand,
};
use crate::demo::Fleet;
use crate::import::import_file;
use crate::serve::{self, RunningServer, ServeOptions};
use crate::state::RateLimits;

/// Logs go to stderr; `RUST_LOG` overrides the default level (info for `serve`, warn otherwise).
pub fn init_logging(command: &Command) {
    let default = if matches!(command, Command::Serve(_)) {
        "info"
    } else {
        "warn"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let data_dir = DataDir::new(cli.data_dir);
    match cli.command {
        Command::Serve(args) => serve_command(data_dir, args).await,
        Command::Apps(AppsCommand::Create(args)) => create_app(data_dir, args).await,
        Command::Apps(AppsCommand::AddCertificate { client_id, cert }) => {
            add_certificate(data_dir, &client_id, &cert).await
        }
        Command::Keys(command) => keys(data_dir, command).await,
        Command::Users(UsersCommand::Create(args)) => create_user(data_dir, args).await,
        Command::Import(args) => import(data_dir, args).await,
        Command::Generate(args) => generate(args),
        Command::Trust { install } => {
            let ca = data_dir.ca_certificate();
            print!("{}", crate::trust::instructions(&ca, &data_dir.root));
            if install {
                println!("{}", crate::trust::install(&ca)?);
            }
            Ok(())
        }
    }
}

pub fn serve_options(data_dir: DataDir, args: &ServeArgs) -> anyhow::Result<ServeOptions> {
    let mut rate_limits = if args.no_rate_limits {
        RateLimits::off()
    } else {
        RateLimits::default()
    };
    for spec in &args.rate_limits {
        rate_limits.set(spec).map_err(|e| anyhow::anyhow!("--rate-limit {e}"))?;
    }
    Ok(ServeOptions {
        data_dir,
        listen: args.listen,
        http_listen: args.http_listen,
        tls_names: args.tls_names.clone(),
        tls_cert: args.tls_cert.clone().zip(args.tls_key.clone()),
        retention_days: args.retention_days,
        demo: !args.no_demo,
        rate_limits,
        key_activation_delay_seconds: args.key_activation_delay,
        key_reload_interval: serve::KEY_RELOAD_INTERVAL,
        trusted_issuers: args.trusted_issuers.clone(),
    })
}

async fn serve_command(data_dir: DataDir, args: ServeArgs) -> anyhow::Result<()> {
    let options = serve_options(data_dir.clone(), &args)?;
    let server = serve::start(options).await?;
    if !server.https_addr.ip().is_loopback() {
        tracing::warn!(address = %server.https_addr, "listening beyond loopback: anyone who can reach it can ask for tokens");
    }
    print_banner(&data_dir, &server);
    server.run_until_stopped().await
}

fn print_banner(data_dir: &DataDir, server: &RunningServer) {
    let origin = format!("https://{}", server.https_addr);
    let ca = data_dir.ca_certificate();
    let ca = ca.display();
    let mut out = String::new();
    out.push_str(&format!("openmde is serving the MDE API at {origin}/api\n"));
    if let Some(http) = server.http_addr {
        out.push_str(&format!("  plain HTTP also at http://{http}/api\n"));
    }
    out.push_str(&format!("  CA certificate: {ca}\n"));
    match server
        .new_credentials
        .clone()
        .or_else(|| Credentials::read(&data_dir.credentials()))
    {
        None => out.push_str("  (no credentials.json: create an application with `openmde apps create`)\n"),
        Some(c) => {
            let alert = c.sample_alert_id.clone().unwrap_or_else(|| "{alert-id}".into());
            let tid = &c.tenant_id;
            out.push_str(&format!(
                "  tenant id:      {tid}\n  client id:      {}\n  client secret:  {}\n  authority:      {origin}/{tid}\n  credentials:    {}\n",
                c.client_id,
                c.client_secret,
                data_dir.credentials().display()
            ));
            if let (Some(upn), Some(password)) = (&c.user_principal_name, &c.user_password) {
                out.push_str(&format!("  demo user:      {upn}  password: {password}\n"));
            }
            out.push_str(&format!(
                "\nTry it with curl:\n  TOKEN=$(curl -s --cacert {ca} {origin}/{tid}/oauth2/v2.0/token \\\n    \
                 -d grant_type=client_credentials -d client_id={} --data-urlencode 'client_secret={}' \\\n    \
                 -d scope=https://api.securitycenter.microsoft.com/.default \\\n    \
                 | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')\n  \
                 curl --cacert {ca} -H \"Authorization: Bearer $TOKEN\" {origin}/api/alerts/{alert}/machine\n",
                c.client_id, c.client_secret
            ));
            out.push_str(&format!(
                "\nOr from Python (pip install msal requests):\n  \
                 import msal, requests\n  \
                 app = msal.ConfidentialClientApplication('{}', client_credential='{}',\n      \
                 authority='{origin}/{tid}', instance_discovery=False, verify='{ca}')\n  \
                 token = app.acquire_token_for_client(['https://api.securitycenter.microsoft.com/.default'])['access_token']\n  \
                 print(requests.get('{origin}/api/alerts/{alert}/machine',\n      \
                 headers={{'Authorization': 'Bearer ' + token}}, verify='{ca}').json())\n",
                c.client_id, c.client_secret
            ));
        }
    }
    print!("{out}");
    let _ = std::io::stdout().flush();
}

async fn create_app(data_dir: DataDir, args: CreateAppArgs) -> anyhow::Result<()> {
    let store = data_dir.open_store()?;
    let tenant = bootstrap::resolve_tenant(store.as_ref(), args.tenant.as_deref()).await?;
    let credentials = bootstrap::create_app(store.as_ref(), &tenant, &args.name, &args.roles).await?;
    if args.json {
        let minimal = serde_json::json!({
            "tenantId": credentials.tenant_id,
            "clientId": credentials.client_id,
            "clientSecret": credentials.client_secret,
        });
        println!("{minimal}");
    } else {
        println!(
            "tenant id:     {}\nclient id:     {}\nclient secret: {}\nroles:         {}",
            credentials.tenant_id,
            credentials.client_id,
            credentials.client_secret,
            credentials.roles.join(" ")
        );
    }
    Ok(())
}

async fn add_certificate(data_dir: DataDir, client_id: &str, cert: &std::path::Path) -> anyhow::Result<()> {
    use openmde_store::Store;
    let pem = std::fs::read_to_string(cert).with_context(|| format!("cannot read {}", cert.display()))?;
    let der = crate::tls::first_certificate_der(&pem)
        .with_context(|| format!("{} holds no PEM CERTIFICATE block", cert.display()))?;
    let store = data_dir.open_store()?;
    anyhow::ensure!(store.app(client_id).await?.is_some(), "no application {client_id}");
    store.add_app_certificate(client_id, &der).await?;
    println!(
        "application {client_id} may now authenticate with the certificate of {}",
        cert.display()
    );
    Ok(())
}

async fn create_user(data_dir: DataDir, args: CreateUserArgs) -> anyhow::Result<()> {
    let store = data_dir.open_store()?;
    let tenant = bootstrap::resolve_tenant(store.as_ref(), args.tenant.as_deref()).await?;
    let user = bootstrap::create_user(
        store.as_ref(),
        &tenant,
        &args.upn,
        &args.name,
        (args.password, &args.groups),
    )
    .await?;
    if args.json {
        let created = serde_json::json!({
            "tenantId": user.tenant_id, "objectId": user.object_id, "upn": user.upn, "password": user.password,
        });
        println!("{created}");
    } else {
        println!(
            "tenant id: {}\nobject id: {}\nupn:       {}\npassword:  {}",
            user.tenant_id, user.object_id, user.upn, user.password
        );
    }
    Ok(())
}

async fn keys(data_dir: DataDir, command: KeysCommand) -> anyhow::Result<()> {
    use openmde_store::Store;
    let store = data_dir.open_store()?;
    let described =
        |key: &openmde_store::SigningKeyRecord| serde_json::json!({"kid": key.kid, "created": key.created.to_string()});
    match command {
        KeysCommand::Rotate { json } => {
            let key = tokio::task::spawn_blocking(openmde_identity::SigningKey::generate).await??;
            let record = key.into();
            store.add_signing_key(&record).await?;
            if json {
                println!("{}", described(&record));
            } else {
                println!(
                    "added signing key {} (published now; it signs once older than the servers' --key-activation-delay)",
                    record.kid
                );
            }
        }
        KeysCommand::List { json } => {
            let keys = store.signing_keys().await?;
            if json {
                println!("{}", serde_json::Value::Array(keys.iter().map(described).collect()));
            } else {
                for key in &keys {
                    println!("{}  created {}", key.kid, key.created);
                }
            }
        }
    }
    Ok(())
}

async fn import(data_dir: DataDir, args: ImportArgs) -> anyhow::Result<()> {
    let store = data_dir.open_store()?;
    let tenant = bootstrap::resolve_tenant(store.as_ref(), args.tenant.as_deref()).await?;
    let mut failed = 0;
    for file in &args.files {
        let started = std::time::Instant::now();
        match import_file(store.as_ref(), tenant.key, file).await {
            Ok(counts) => println!(
                "{}: {} machines, {} alerts imported in {:.1} s",
                file.display(),
                counts.machines,
                counts.alerts,
                started.elapsed().as_secs_f64()
            ),
            Err(error) => {
                eprintln!("error: {error} (nothing from this file was imported)");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} files were not imported", args.files.len());
    }
    Ok(())
}

fn generate(args: GenerateArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let fleet = Fleet {
        machines: args.machines,
        alerts: args.alerts,
        tenant_id: args.tenant_id,
        now: openmde_model::Timestamp::now(),
    };
    write_list(&args.out.join("machines.json"), "Machines", fleet.machines, |i| {
        Ok(fleet.machine(i))
    })?;
    let mut ids = std::io::BufWriter::new(std::fs::File::create(args.out.join("alert-ids.txt"))?);
    write_list(&args.out.join("alerts.json"), "Alerts", fleet.alerts, |i| {
        let alert = fleet.alert(i);
        if Fleet::alert_resolves_to_machine(i, &alert) {
            writeln!(ids, "{}", fleet.alert_id(i))?;
        }
        Ok(alert)
    })?;
    ids.flush()?;
    println!(
        "wrote {} machines and {} alerts to {}",
        fleet.machines,
        fleet.alerts,
        args.out.display()
    );
    Ok(())
}

/// Writes `{"@odata.context": ..., "value": [...]}` one record at a time.
fn write_list(
    path: &Path,
    entity_set: &str,
    count: u64,
    mut record: impl FnMut(u64) -> std::io::Result<serde_json::Value>,
) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    write!(
        out,
        "{{\"@odata.context\":\"https://api.securitycenter.microsoft.com/api/$metadata#{entity_set}\",\"value\":["
    )?;
    for i in 0..count {
        if i > 0 {
            out.write_all(b",\n")?;
        }
        serde_json::to_writer(&mut out, &record(i)?)?;
    }
    out.write_all(b"]}\n")?;
    out.flush()?;
    Ok(())
}
