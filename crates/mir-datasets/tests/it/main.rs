//! Integration tests of mir-datasets: decoding every format, resampling, windowed reading,
//! downloads against a local server, and every dataset handler on its fixture.

mod audio;
mod download;
mod emomusic;
mod encode;
mod fma;
mod gtzan;
mod handlers;
mod magnatagatune;
mod mirrors;
mod mtg_jamendo;
mod nsynth;
mod server;
