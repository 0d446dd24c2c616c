//! Integration tests over the real HTTP stack: a server on 127.0.0.1:0 with TLS from its own
//! CA, called with reqwest as an MDE client would. One binary, so cargo links once.

mod access;
mod alert_machine;
mod cli;
mod entities;
mod external;
mod helpers;
mod import;
mod lists;
mod postgres;
mod replicas;
mod tokens;
mod users;
