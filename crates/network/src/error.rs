//! The library's one error type: each variant names what was wrong.

use std::io;
use std::path::PathBuf;

/// Errors of the network library. Messages are lowercase and name the conflicting object.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("network {0} not found")]
    NetworkNotFound(String),
    #[error("{0} is a pre-defined network and cannot be removed")]
    Predefined(String),
    #[error("network with name {0} already exists")]
    NetworkExists(String),
    #[error("network {name} has active endpoints ({endpoints})")]
    NetworkInUse { name: String, endpoints: String },
    #[error(
        "the default network cannot change to {wanted}: containers {containers} are attached to it ({current}); stop them first, or start the daemon with its former settings"
    )]
    DefaultNetworkInUse {
        wanted: String,
        current: String,
        containers: String,
    },
    #[error("invalid subnet {value:?}: {reason}")]
    InvalidSubnet { value: String, reason: String },
    #[error("invalid address {value:?}: {reason}")]
    InvalidAddress { value: String, reason: String },
    #[error("subnet {subnet} overlaps with subnet {other} of network {network}")]
    SubnetOverlap {
        subnet: String,
        other: String,
        network: String,
    },
    #[error("no free subnet left in the address pools")]
    NoFreeSubnet,
    #[error("no available IPv4 addresses on network {0}")]
    PoolExhausted(String),
    #[error("address {ip} is already in use on network {network}")]
    AddressInUse { ip: String, network: String },
    #[error("endpoint with name {container} already exists in network {network}")]
    EndpointExists { container: String, network: String },
    #[error("container {container} is not connected to network {network}")]
    EndpointNotFound { container: String, network: String },
    #[error("invalid option {key}: {reason}")]
    InvalidOption { key: String, reason: String },
    #[error("invalid name {value:?}: {reason}")]
    InvalidName { value: String, reason: String },
    #[error("invalid port specification: {value:?}: {reason}")]
    InvalidPortSpec { value: String, reason: String },
    #[error("failed to bind host port {host_ip}:{port}/{proto}: address already in use")]
    PortInUse {
        host_ip: String,
        port: u16,
        proto: String,
    },
    #[error("network namespace {path}: {source}")]
    Netns { path: PathBuf, source: io::Error },
    #[error("netlink: {context}: {message}")]
    Netlink { context: String, message: String },
    #[error("firewall: {0}")]
    Firewall(String),
    #[error("state file {path}: {message}")]
    State { path: PathBuf, message: String },
    #[error("{context}: {source}")]
    Io { context: String, source: io::Error },
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn netlink(context: impl Into<String>, err: impl std::fmt::Display) -> Self {
        Error::Netlink {
            context: context.into(),
            message: err.to_string(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
