//! Discord's HTTP interactions endpoint: Ed25519-verified requests answered by axum.
