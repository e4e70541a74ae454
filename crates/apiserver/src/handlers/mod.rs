//! Request handlers: the route table of the API server and one module per concern.

pub mod discovery;
mod eviction;
pub mod health;
pub mod openapi;
pub mod output;
mod patch;
pub mod pod_log;
pub mod pod_stream;
pub mod query;
pub mod resource;
mod review;
mod scale;
mod stream_translator;
mod token;
