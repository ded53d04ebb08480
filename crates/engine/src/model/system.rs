//! `/version` and `/info` shapes.

use serde::Serialize;
use serde_json::Value;

pub const API_VERSION: &str = "1.44";
pub const MIN_API_VERSION: &str = "1.24";
pub const ENGINE_VERSION: &str = "25.0.0-berth";

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Version {
    pub platform: Value,
    pub components: Vec<Value>,
    pub version: String,
    pub api_version: String,
    #[serde(rename = "MinAPIVersion")]
    pub min_api_version: String,
    pub git_commit: String,
    pub go_version: String,
    pub os: String,
    pub arch: String,
    pub kernel_version: String,
    pub build_time: String,
}
