//! Validation of the network source kinds' tables (`stripe`, `hubspot`, `http_json`), one file
//! per kind beside the keys they share ([`network`]). `files` and `demo` are validated in
//! `config/mod.rs`.

mod http_json;
mod hubspot;
mod network;
mod stripe;
