//! The benchmark's baseline: the least an axum server can do to answer a benchmarked request
//! (any path) with the same bytes and headers openmde sends.
//!
//! Usage: `openmde-bench-baseline LISTEN_ADDR BODY_FILE`

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(body_file)) = (args.next(), args.next()) else {
        eprintln!("usage: openmde-bench-baseline LISTEN_ADDR BODY_FILE");
        std::process::exit(2);
    };
    let body: &'static [u8] = Box::leak(std::fs::read(body_file)?.into_boxed_slice());
    let app = Router::new().fallback(get(move || async move {
        (
            [
                (
                    CONTENT_TYPE,
                    "application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8",
                ),
                (axum::http::HeaderName::from_static("odata-version"), "4.0"),
            ],
            body,
        )
    }));
    let listener = tokio::net::TcpListener::bind(listen).await?;
    axum::serve(listener, app).await
}
