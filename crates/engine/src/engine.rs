//! The engine object: the store, the image store, the event bus and the container table.

use std::sync::Arc;

use berth_image::ImageStore;

use crate::config::EngineConfig;
use crate::container::table::Table;
use crate::error::Result;
use crate::events::EventBus;
use crate::store::Store;

pub struct Engine {
    config: EngineConfig,
    pub(crate) store: Store,
    pub(crate) events: EventBus,
    pub(crate) containers: Table,
    pub(crate) images: Arc<ImageStore>,
    pub(crate) network: Option<berth_network::NetworkManager>,
    pub(crate) execs: crate::exec::ExecTable,
    pub(crate) builder: Arc<berth_build::Builder>,
    pub(crate) monitors: Arc<crate::container::monitor_client::Monitors>,
    pub(crate) netns_spare: Arc<crate::netns_spare::NetnsSpare>,
    /// Container directories made ahead of the creates that take them (`spare_dirs.rs`).
    pub(crate) data_spares: Arc<crate::spare_dirs::DataSpares>,
    /// Containers launched ahead of their start (`container/prelaunch.rs`).
    pub(crate) prelaunches: std::sync::atomic::AtomicUsize,
    engine_id: String,
}

impl Engine {
    /// Opens the stores under the data root and reconciles them with what is running.
    pub async fn open(config: EngineConfig) -> Result<Arc<Engine>> {
        std::fs::create_dir_all(config.exec_root.join("containers"))
            .map_err(|e| crate::Error::io(format!("create {}", config.exec_root.display()), e))?;
        let store = Store::open(&config.engine_dir())?;
        let engine_id = load_engine_id(&config)?;
        let images = Arc::new(crate::images::open_store(&config)?);
        let builder = crate::build::open_builder(&config, &images)?;
        let opts = crate::network::manager_options(&config);
        let network = Some(
            berth_network::NetworkManager::open(&config.data_root.join("network"), opts).await?,
        );
        let monitors = crate::container::monitor_client::Monitors::new(
            config.monitor_path.clone(),
            config.exec_root.clone(),
        );
        let netns_spare = crate::netns_spare::NetnsSpare::open(&config.exec_root);
        let data_spares = crate::spare_dirs::open_data_spares(&config.engine_dir())?;
        let engine = Arc::new(Engine {
            config,
            store,
            events: EventBus::default(),
            containers: Table::default(),
            images,
            network,
            execs: Default::default(),
            builder,
            monitors,
            netns_spare,
            data_spares,
            prelaunches: Default::default(),
            engine_id,
        });
        engine.clean_rootfs_scratch();
        engine.empty_trash();
        engine.reconcile().await?;
        // ready for the first start: a monitor waiting for its container, a network namespace
        engine.monitors.refill();
        engine.netns_spare.refill();
        engine.refill_spares();
        Ok(engine)
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    pub fn events(&self) -> &EventBus {
        &self.events
    }

    pub(crate) fn engine_id(&self) -> &str {
        &self.engine_id
    }

    /// (running, paused, stopped)
    pub(crate) fn container_counts(&self) -> (usize, usize, usize) {
        let mut n = (0, 0, 0);
        for c in self.containers.all() {
            let r = c.rec();
            if r.state.paused {
                n.1 += 1;
            } else if r.state.running {
                n.0 += 1;
            } else {
                n.2 += 1;
            }
        }
        n
    }

    pub(crate) fn image_count(&self) -> usize {
        self.images.list().map(|l| l.len()).unwrap_or(0)
    }
}

fn load_engine_id(config: &EngineConfig) -> Result<String> {
    let path = config.engine_dir().join("engine-id");
    if let Ok(id) = std::fs::read_to_string(&path) {
        return Ok(id.trim().to_string());
    }
    let id = crate::container::ids::new_id();
    crate::container::fsutil::write_atomic(&path, id.as_bytes())?;
    Ok(id)
}
