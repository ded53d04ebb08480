//! The in-memory container table and Docker's lookup rules (full ID, name, unique ID prefix).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::record::Container;
use crate::error::{Error, Result};

#[derive(Default)]
pub struct Table {
    by_id: RwLock<HashMap<String, Arc<Container>>>,
}

impl Table {
    pub fn insert(&self, c: Arc<Container>) {
        self.write().insert(c.id.clone(), c);
    }

    pub fn remove(&self, id: &str) {
        self.write().remove(id);
    }

    pub fn all(&self) -> Vec<Arc<Container>> {
        self.read().values().cloned().collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<Container>>> {
        self.by_id.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<Container>>> {
        self.by_id.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Docker's order: exact ID, exact name, then a unique ID prefix.
    pub fn get(&self, name_or_id: &str) -> Result<Arc<Container>> {
        let key = name_or_id.strip_prefix('/').unwrap_or(name_or_id);
        if key.is_empty() {
            return Err(Error::no_such_container(name_or_id));
        }
        let map = self.read();
        if let Some(c) = map.get(key) {
            return Ok(c.clone());
        }
        if let Some(c) = map.values().find(|c| c.rec().name == key) {
            return Ok(c.clone());
        }
        let mut found = map.values().filter(|c| c.id.starts_with(key));
        match (found.next(), found.next()) {
            (Some(c), None) => Ok(c.clone()),
            (Some(_), Some(_)) => Err(Error::InvalidParameter(format!(
                "Multiple IDs found with provided prefix: {key}"
            ))),
            _ => Err(Error::no_such_container(name_or_id)),
        }
    }

    /// The container holding `name`, if any.
    pub fn by_name(&self, name: &str) -> Option<Arc<Container>> {
        self.read().values().find(|c| c.rec().name == name).cloned()
    }
}
