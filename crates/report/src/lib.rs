//! The report of a `weft bench` run: what the client measured over time, what the target and the host were
//! doing meanwhile (`sample`), which resource saturated first and why (`analysis`), and the rendering of all
//! of it as JSON and as one self-contained HTML page, alone or beside another run (`html`).
//!
//! The bench (`weft-bench`) owns driving the load; this crate owns everything about reading the machine and
//! explaining the result, so that the explanation can be tested on constructed samples without any load.

pub mod model;

pub use model::{HistogramBucket, Interval, Objective, Percentiles, REPORT_VERSION, Run, RunSettings, Step, Target};
pub mod analysis;
pub mod detect;
#[cfg(test)]
mod fixture;
mod headline;
pub mod html;
pub mod path;
pub mod procfs;
pub mod prom;
pub mod sample;
mod svg;
pub mod target_metrics;

pub use analysis::{Bottleneck, analyse};
pub use detect::Evidence;
pub use path::Stage;
pub use sample::{ResourceSample, Sampler, SamplerConfig};
