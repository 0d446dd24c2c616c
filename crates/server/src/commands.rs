//! What each subcommand does; `main` only parses and calls [`run`].

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use tracing_subscriber::EnvFilter;

use crate::bootstrap::{Credentials, DataDir};
use crate::cli::{
    AppsCommand, Cli, Command, CommonOptions, DeviceGroupArgs, DeviceGroupsCommand, GenerateArgs, GroupsCommand,
    ImportArgs, KeysCommand, RoleArgs, RolesCommand, ServeArgs, TenantsCommand, UsersCommand,
};
use crate::demo::Fleet;
use crate::import::import_file;
use crate::manage::{self, DeviceGroupSpec, Manager, NewApp, NewTenant, NewUser, NewUserGroup, RoleSpec};
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
    let data_dir = DataDir::new(cli.data_dir).with_database(cli.database_url, cli.database_pool_size);
    match cli.command {
        Command::Serve(args) => serve_command(data_dir, args).await,
        Command::Apps(AppsCommand::AddCertificate { client_id, cert }) => {
            add_certificate(data_dir, &client_id, &cert).await
        }
        Command::Keys(command) => keys(data_dir, command).await,
        Command::Tenants(_)
        | Command::Apps(_)
        | Command::Users(_)
        | Command::Groups(_)
        | Command::Roles(_)
        | Command::DeviceGroups(_) => manage(data_dir, cli.command).await,
        Command::Import(args) => import(data_dir, args).await,
        Command::Generate(args) => generate(args),
        Command::Migrate => {
            data_dir.open_store().await?;
            println!("the store's schema is up to date");
            Ok(())
        }
        Command::Copy { from, to } => copy(&from, &to, data_dir.database_pool_size).await,
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
        admin_listen: (!args.no_admin).then_some(args.admin_listen),
        admin_key: args.admin_key.clone(),
        redis_url: args.redis_url.clone(),
        rate_limit_fail_mode: args.rate_limit_fail_mode.into(),
    })
}

async fn serve_command(data_dir: DataDir, args: ServeArgs) -> anyhow::Result<()> {
    let options = serve_options(data_dir.clone(), &args)?;
    let server = serve::start(options).await?;
    if !server.https_addr.ip().is_loopback() {
        tracing::warn!(address = %server.https_addr, "listening beyond loopback: anyone who can reach it can ask for tokens");
    }
    print_banner(&data_dir, &server, args.admin_key.is_some());
    server.run_until_stopped().await
}

fn print_banner(data_dir: &DataDir, server: &RunningServer, admin_key_given: bool) {
    let origin = format!("https://{}", server.https_addr);
    let ca = data_dir.ca_certificate();
    let ca = ca.display();
    let mut out = String::new();
    out.push_str(&format!("openmde is serving the MDE API at {origin}/api\n"));
    if let Some(http) = server.http_addr {
        out.push_str(&format!("  plain HTTP also at http://{http}/api\n"));
    }
    out.push_str(&format!("  CA certificate: {ca}\n"));
    let store = match &data_dir.database_url {
        Some(url) => openmde_store::postgres::redacted(url),
        None => data_dir.database().display().to_string(),
    };
    out.push_str(&format!("  store:          {store}\n"));
    if let Some(admin) = server.admin_addr {
        let key = match admin_key_given {
            true => "as given by --admin-key / OPENMDE_ADMIN_KEY".to_string(),
            false => data_dir.admin_key_path().display().to_string(),
        };
        out.push_str(&format!(
            "  admin API:      http://{admin}/admin/tenants (key: {key})\n"
        ));
    }
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

async fn copy(from: &str, to: &str, pool_size: usize) -> anyhow::Result<()> {
    let open = |url: &str| {
        let url = url.to_string();
        async move {
            anyhow::ensure!(
                url.contains("://"),
                "{url}: give a URL, postgres://... or sqlite://path"
            );
            crate::bootstrap::open_store(Some(&url), Path::new(""), pool_size).await
        }
    };
    let (source, target) = (open(from).await?, open(to).await?);
    for (tenant, machines, alerts) in crate::copy::copy(source.as_ref(), target.as_ref()).await? {
        println!("{tenant}: {machines} machines and {alerts} alerts copied, counts match");
    }
    Ok(())
}

async fn add_certificate(data_dir: DataDir, client_id: &str, cert: &std::path::Path) -> anyhow::Result<()> {
    let pem = std::fs::read_to_string(cert).with_context(|| format!("cannot read {}", cert.display()))?;
    let der = crate::tls::first_certificate_der(&pem)
        .with_context(|| format!("{} holds no PEM CERTIFICATE block", cert.display()))?;
    let store = data_dir.open_store().await?;
    anyhow::ensure!(store.app(client_id).await?.is_some(), "no application {client_id}");
    store.add_app_certificate(client_id, &der).await?;
    println!(
        "application {client_id} may now authenticate with the certificate of {}",
        cert.display()
    );
    Ok(())
}

/// What a management command asks of the [`Manager`], and how its answer is printed.
enum Printed {
    /// A list: one summary line per item.
    Items(serde_json::Value),
    /// One entity: its summary line, or these labelled secrets printed once.
    Entity(serde_json::Value),
    Secrets(serde_json::Value, Vec<(&'static str, String)>),
    Done(String),
}

/// An application's credentials, as `apps create` and `apps reset-secret` print them.
fn app_credentials(app: &manage::CreatedApp) -> anyhow::Result<Printed> {
    let lines = vec![
        ("tenant id", app.tenant_id.clone()),
        ("client id", app.client_id.clone()),
        ("client secret", app.client_secret.clone()),
        ("roles", app.roles.join(" ")),
    ];
    Ok(Printed::Secrets(serde_json::to_value(app)?, lines))
}

async fn manage(data_dir: DataDir, command: Command) -> anyhow::Result<()> {
    let store = data_dir.open_store().await?;
    let manager = Manager::new(store.as_ref(), None);
    let (scope, printed) = manage_with(&manager, command).await?;
    let json = |value: &serde_json::Value| println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
    match printed {
        Printed::Items(items) if scope.json => json(&items),
        Printed::Items(items) => items
            .as_array()
            .into_iter()
            .flatten()
            .for_each(|item| println!("{}", manage::summary_line(item))),
        Printed::Entity(entity) | Printed::Secrets(entity, _) if scope.json => json(&entity),
        Printed::Entity(entity) => println!("{}", manage::summary_line(&entity)),
        Printed::Secrets(_, lines) => {
            for (label, value) in lines {
                println!("{:<15}{value}", format!("{label}:"));
            }
        }
        Printed::Done(message) if scope.json => json(&serde_json::json!({"done": message})),
        Printed::Done(message) => println!("{message}"),
    }
    Ok(())
}

async fn manage_with(manager: &Manager<'_>, command: Command) -> anyhow::Result<(CommonOptions, Printed)> {
    let tenant = |scope: &CommonOptions| {
        let named = scope.tenant.clone();
        async move { manager.tenant(named.as_deref()).await }
    };
    Ok(match command {
        Command::Tenants(TenantsCommand::List(scope)) => (scope, Printed::Items(manager.tenants().await?)),
        Command::Tenants(TenantsCommand::Create {
            name,
            domain,
            id,
            scope,
        }) => {
            let created = manager.create_tenant(NewTenant { name, domain, id }).await?;
            (scope, Printed::Entity(created))
        }
        Command::Apps(AppsCommand::List(scope)) => {
            let items = manager.apps(&tenant(&scope).await?).await?;
            (scope, Printed::Items(items))
        }
        Command::Apps(AppsCommand::Create(args)) => {
            let request = NewApp {
                name: args.name,
                roles: args.roles,
            };
            let app = manager.create_app(&tenant(&args.scope).await?, request).await?;
            (args.scope, app_credentials(&app)?)
        }
        Command::Apps(AppsCommand::ResetSecret { client_id, scope }) => {
            let app = manager.reset_secret(&tenant(&scope).await?, &client_id).await?;
            (scope, app_credentials(&app)?)
        }
        Command::Apps(AppsCommand::Delete { client_id, scope }) => {
            manager.delete_app(&tenant(&scope).await?, &client_id).await?;
            (scope, Printed::Done(format!("deleted application {client_id}")))
        }
        Command::Users(UsersCommand::List(scope)) => {
            let items = manager.users(&tenant(&scope).await?).await?;
            (scope, Printed::Items(items))
        }
        Command::Users(UsersCommand::Create(args)) => {
            let request = NewUser {
                upn: args.upn,
                display_name: args.name,
                password: args.password,
                groups: args.groups,
            };
            let user = manager.create_user(&tenant(&args.scope).await?, request).await?;
            let lines = vec![
                ("tenant id", user.tenant_id.clone()),
                ("object id", user.object_id.clone()),
                ("upn", user.upn.clone()),
                ("password", user.password.clone()),
            ];
            (args.scope, Printed::Secrets(serde_json::to_value(&user)?, lines))
        }
        Command::Users(UsersCommand::Delete { user, scope }) => {
            manager.delete_user(&tenant(&scope).await?, &user).await?;
            (scope, Printed::Done(format!("deleted user {user}")))
        }
        Command::Groups(command) => manage_groups(manager, command).await?,
        Command::Roles(command) => manage_roles(manager, command).await?,
        Command::DeviceGroups(command) => manage_device_groups(manager, command).await?,
        _ => anyhow::bail!("not a management command"),
    })
}

async fn manage_groups(manager: &Manager<'_>, command: GroupsCommand) -> anyhow::Result<(CommonOptions, Printed)> {
    Ok(match command {
        GroupsCommand::List(scope) => {
            let items = manager.groups(&manager.tenant(scope.tenant.as_deref()).await?).await?;
            (scope, Printed::Items(items))
        }
        GroupsCommand::Create {
            name,
            id,
            members,
            scope,
        } => {
            let tenant = manager.tenant(scope.tenant.as_deref()).await?;
            let request = NewUserGroup {
                display_name: name,
                id,
                members,
            };
            (scope, Printed::Entity(manager.create_group(&tenant, request).await?))
        }
        GroupsCommand::Delete { group, scope } => {
            let tenant = manager.tenant(scope.tenant.as_deref()).await?;
            manager.delete_group(&tenant, &group).await?;
            (scope, Printed::Done(format!("deleted user group {group}")))
        }
        GroupsCommand::AddMember { group, user, scope } => {
            let tenant = manager.tenant(scope.tenant.as_deref()).await?;
            manager.set_member(&tenant, &group, &user, true).await?;
            (scope, Printed::Done(format!("{user} is a member of {group}")))
        }
        GroupsCommand::RemoveMember { group, user, scope } => {
            let tenant = manager.tenant(scope.tenant.as_deref()).await?;
            manager.set_member(&tenant, &group, &user, false).await?;
            (scope, Printed::Done(format!("{user} is not a member of {group}")))
        }
    })
}

fn role_spec(args: RoleArgs) -> (CommonOptions, RoleSpec) {
    let spec = RoleSpec {
        name: args.name,
        description: args.description,
        permissions: (!args.permissions.is_empty()).then_some(args.permissions),
        user_groups: (!args.groups.is_empty()).then_some(args.groups),
    };
    (args.scope, spec)
}

async fn manage_roles(manager: &Manager<'_>, command: RolesCommand) -> anyhow::Result<(CommonOptions, Printed)> {
    Ok(match command {
        RolesCommand::List(scope) => {
            let items = manager.roles(&manager.tenant(scope.tenant.as_deref()).await?).await?;
            (scope, Printed::Items(items))
        }
        RolesCommand::Create(args) => {
            let (scope, spec) = role_spec(args);
            let tenant = manager.tenant(scope.tenant.as_deref()).await?;
            (scope, Printed::Entity(manager.create_role(&tenant, spec).await?))
        }
        RolesCommand::Update { role, changes } => {
            let (scope, spec) = role_spec(changes);
            let tenant = manager.tenant(scope.tenant.as_deref()).await?;
            (scope, Printed::Entity(manager.update_role(&tenant, &role, spec).await?))
        }
        RolesCommand::Delete { role, scope } => {
            let tenant = manager.tenant(scope.tenant.as_deref()).await?;
            manager.delete_role(&tenant, &role).await?;
            (scope, Printed::Done(format!("deleted role {role}")))
        }
    })
}

fn device_group_spec(args: DeviceGroupArgs) -> anyhow::Result<(CommonOptions, DeviceGroupSpec)> {
    let mut rules = openmde_access::DeviceGroupRules::default();
    for rule in &args.rules {
        manage::add_rule(&mut rules, rule)?;
    }
    let automation_level = args
        .automation_level
        .map(|level| serde_json::from_value(serde_json::Value::String(level.clone())))
        .transpose()
        .map_err(|_| {
            anyhow::anyhow!("unknown automation level; e.g. FullRemediateThreatsAutomatically, NoAutomatedResponse")
        })?;
    let user_groups = match (args.all_users, args.groups.is_empty()) {
        (true, _) => Some(Vec::new()),
        (false, true) => None,
        (false, false) => Some(args.groups),
    };
    let spec = DeviceGroupSpec {
        device_group_name: args.name,
        priority: args.rank,
        description: args.description,
        automation_level,
        device_group_rules: (!args.rules.is_empty()).then_some(rules),
        user_groups,
    };
    Ok((args.scope, spec))
}

async fn manage_device_groups(
    manager: &Manager<'_>,
    command: DeviceGroupsCommand,
) -> anyhow::Result<(CommonOptions, Printed)> {
    Ok(match command {
        DeviceGroupsCommand::List(scope) => {
            let items = manager
                .device_groups(&manager.tenant(scope.tenant.as_deref()).await?)
                .await?;
            (scope, Printed::Items(items))
        }
        DeviceGroupsCommand::Create(args) => {
            let (scope, spec) = device_group_spec(args)?;
            let tenant = manager.tenant(scope.tenant.as_deref()).await?;
            (
                scope,
                Printed::Entity(manager.create_device_group(&tenant, spec).await?),
            )
        }
        DeviceGroupsCommand::Update { group, changes } => {
            let (scope, spec) = device_group_spec(changes)?;
            let tenant = manager.tenant(scope.tenant.as_deref()).await?;
            let updated = manager.update_device_group(&tenant, &group, spec).await?;
            (scope, Printed::Entity(updated))
        }
        DeviceGroupsCommand::Delete { group, scope } => {
            let tenant = manager.tenant(scope.tenant.as_deref()).await?;
            manager.delete_device_group(&tenant, &group).await?;
            (scope, Printed::Done(format!("deleted device group {group}")))
        }
    })
}

async fn keys(data_dir: DataDir, command: KeysCommand) -> anyhow::Result<()> {
    let store = data_dir.open_store().await?;
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
    let store = data_dir.open_store().await?;
    let tenant = Manager::new(store.as_ref(), None)
        .tenant(args.tenant.as_deref())
        .await?;
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
