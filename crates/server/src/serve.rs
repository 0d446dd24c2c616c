//! `openmde serve`: the HTTPS listener (and an optional plain-HTTP one) over one store.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use axum::Extension;
use axum_server::tls_rustls::RustlsConfig;
use openmde_identity::KeySource;
use openmde_ratelimit::{FailMode, MemoryLimiter, RateLimiter, RedisLimiter};
use openmde_store::Store;

use crate::bootstrap::{self, Credentials, DataDir};
use crate::http::odata::Scheme;
use crate::http::routes;
use crate::state::{AppState, RateLimits};
use crate::tls;

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub data_dir: DataDir,
    pub listen: SocketAddr,
    pub http_listen: Option<SocketAddr>,
    pub tls_names: Vec<String>,
    pub tls_cert: Option<(PathBuf, PathBuf)>,
    pub retention_days: i64,
    pub demo: bool,
    pub rate_limits: RateLimits,
    /// How long a new signing key is published before it signs.
    pub key_activation_delay_seconds: i64,
    /// How often the signing keys are read again from the store.
    pub key_reload_interval: std::time::Duration,
    /// Files that each describe an external issuer whose tokens the API accepts.
    pub trusted_issuers: Vec<PathBuf>,
    /// The admin API's plain-HTTP address (loopback by default); `None`: no admin API.
    pub admin_listen: Option<SocketAddr>,
    /// The admin API's key; when `None`, the data directory's `admin-key` (created if missing).
    pub admin_key: Option<String>,
    /// Rate-limit counters shared in Redis (`redis://host:port/db`); `None`: in this process.
    pub redis_url: Option<String>,
    /// What a rate-limit check does when Redis does not answer.
    pub rate_limit_fail_mode: FailMode,
}

/// How often a running server reads the signing keys again: the bound on how long a key added
/// by `openmde keys rotate` (or another replica) stays unpublished.
pub const KEY_RELOAD_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

pub struct RunningServer {
    /// The server's own store: what is written through it, the server reads at once.
    pub store: Arc<dyn Store>,
    pub https_addr: SocketAddr,
    pub http_addr: Option<SocketAddr>,
    pub admin_addr: Option<SocketAddr>,
    /// Set on the first start of a data directory.
    pub new_credentials: Option<Credentials>,
    handle: axum_server::Handle<SocketAddr>,
    shutdowns: Vec<tokio::sync::oneshot::Sender<()>>,
    tasks: Tasks,
}

/// rustls needs one process-wide crypto provider; aws-lc-rs is the only one built in.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

fn limiter(options: &ServeOptions) -> anyhow::Result<Arc<dyn RateLimiter>> {
    Ok(match &options.redis_url {
        Some(url) => {
            Arc::new(RedisLimiter::new(url, options.rate_limit_fail_mode).context("the Redis URL is not usable")?)
        }
        None => Arc::new(MemoryLimiter::default()),
    })
}

pub async fn start(options: ServeOptions) -> anyhow::Result<RunningServer> {
    install_crypto_provider();
    let store = options.data_dir.open_store().await?;
    let new_credentials = bootstrap::first_start(store.as_ref(), &options.data_dir, options.demo).await?;
    let keys = Arc::new(KeySource::load(Arc::clone(&store), options.key_activation_delay_seconds).await?);
    keys.reload_every(options.key_reload_interval);
    let mut trusted = Vec::with_capacity(options.trusted_issuers.len());
    for file in &options.trusted_issuers {
        trusted.push(crate::trusted::load(store.as_ref(), file).await?);
    }
    let state = Arc::new(AppState::new(
        Arc::clone(&store),
        (keys, trusted),
        limiter(&options)?,
        options.rate_limits.clone(),
        options.retention_days,
    ));
    let admin = options
        .admin_listen
        .map(|address| {
            let key = match &options.admin_key {
                Some(key) => key.clone(),
                None => options.data_dir.admin_key()?,
            };
            let admin = routes::admin::AdminState {
                store: Arc::clone(&store),
                access: Arc::clone(&state.access),
                key_sha256: openmde_identity::secret::sha256(&key),
            };
            anyhow::Ok((address, routes::admin::router(Arc::new(admin))))
        })
        .transpose()?;
    let router = routes::router(state);

    let material = match &options.tls_cert {
        Some((cert, key)) => tls::from_files(cert, key)?,
        None => tls::issue_from_local_ca(&options.data_dir.tls(), &options.tls_names)?,
    };
    let tls_config = RustlsConfig::from_pem(material.chain_pem.into_bytes(), material.key_pem.into_bytes())
        .await
        .context("the TLS certificate or key is unusable")?;
    let listener =
        std::net::TcpListener::bind(options.listen).with_context(|| format!("cannot listen on {}", options.listen))?;
    listener.set_nonblocking(true)?;
    let https_addr = listener.local_addr()?;
    let handle = axum_server::Handle::new();
    let https = axum_server::from_tcp_rustls(listener, tls_config)?
        .handle(handle.clone())
        .serve(router.clone().layer(Extension(Scheme::Https)).into_make_service());
    let mut tasks = vec![tokio::spawn(https)];

    let mut shutdowns = Vec::new();
    let http_addr = match options.http_listen {
        Some(address) => {
            let app = router.layer(Extension(Scheme::Http));
            Some(serve_plain(address, app, &mut tasks, &mut shutdowns).await?)
        }
        None => None,
    };
    let admin_addr = match admin {
        Some((address, app)) => {
            if !address.ip().is_loopback() {
                tracing::warn!(%address, "the admin API listens beyond loopback, over plain HTTP");
            }
            Some(serve_plain(address, app, &mut tasks, &mut shutdowns).await?)
        }
        None => None,
    };
    Ok(RunningServer {
        store,
        https_addr,
        http_addr,
        admin_addr,
        new_credentials,
        handle,
        shutdowns,
        tasks,
    })
}

type Tasks = Vec<tokio::task::JoinHandle<std::io::Result<()>>>;

/// Serves `app` over plain HTTP at `address` until its shutdown sender fires (or is dropped).
async fn serve_plain(
    address: SocketAddr,
    app: axum::Router,
    tasks: &mut Tasks,
    shutdowns: &mut Vec<tokio::sync::oneshot::Sender<()>>,
) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    let bound = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    shutdowns.push(stop);
    tasks.push(tokio::spawn(async move {
        axum::serve(listener, app.into_make_service())
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    }));
    Ok(bound)
}

impl RunningServer {
    /// Runs until a listener fails or Ctrl-C.
    pub async fn run_until_stopped(mut self) -> anyhow::Result<()> {
        let outcome = tokio::select! {
            result = first_to_end(&mut self.tasks) => result,
            _ = tokio::signal::ctrl_c() => Ok(()),
        };
        tracing::info!("shutting down");
        self.stop().await;
        outcome
    }

    pub async fn stop(mut self) {
        self.handle.graceful_shutdown(Some(std::time::Duration::from_secs(5)));
        for stop in self.shutdowns.drain(..) {
            let _ = stop.send(());
        }
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

/// The first listener task to end, with its outcome.
async fn first_to_end(tasks: &mut [tokio::task::JoinHandle<std::io::Result<()>>]) -> anyhow::Result<()> {
    let (result, _, _) = futures_util::future::select_all(tasks.iter_mut()).await;
    result.context("a listener task failed")?.context("a listener stopped")
}
