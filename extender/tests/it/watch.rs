//! The API-server watch and bind, against a local fake API server.
