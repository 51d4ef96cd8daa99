//! Integration tests of mir-datasets: decoding every format, resampling, windowed reading,
//! downloads against a local server.

mod audio;
mod download;
mod encode;
mod server;
