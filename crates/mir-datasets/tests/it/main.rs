//! Integration tests of mir-datasets: decoding every format, resampling, windowed reading.

mod audio;
mod encode;
