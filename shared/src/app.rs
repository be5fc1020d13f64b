//! The wiring of one function instance: adapters built once at cold start over shared SDK
//! clients, then lent to every invocation by reference.

use std::sync::Arc;

use aws_config::{BehaviorVersion, SdkConfig};

use crate::adapters::dynamo::{
    DynamoCatalog, DynamoInventory, DynamoWarehouses, Faults, InventoryTables,
};
use crate::config::Config;

/// The SDK clients, one per service, shared by every adapter.
#[derive(Debug, Clone)]
pub struct Clients {
    pub dynamo: aws_sdk_dynamodb::Client,
}

impl Clients {
    pub fn from_sdk(sdk: &SdkConfig) -> Self {
        Self {
            dynamo: aws_sdk_dynamodb::Client::new(sdk),
        }
    }
}

/// Adapters for every port, ready to use.
#[derive(Debug, Clone)]
pub struct App {
    pub config: Config,
    pub catalog: DynamoCatalog,
    pub inventory: DynamoInventory,
    pub warehouses: DynamoWarehouses,
    /// Fault injection for tests; inert unless a test arms it.
    pub faults: Arc<Faults>,
}

impl App {
    /// Load AWS settings the standard way (region, credentials, `AWS_ENDPOINT_URL_*`).
    pub async fn connect(config: &Config) -> Self {
        let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
        Self::new(config, Clients::from_sdk(&sdk))
    }

    /// Build over clients made elsewhere (tests point them at DynamoDB Local and moto).
    pub fn new(config: &Config, clients: Clients) -> Self {
        let Clients { dynamo } = clients;
        let t = &config.tables;
        let faults = Arc::new(Faults::default());
        Self {
            config: config.clone(),
            catalog: DynamoCatalog::new(dynamo.clone(), &t.items),
            inventory: DynamoInventory::new(
                dynamo.clone(),
                InventoryTables {
                    stock: t.stock.clone(),
                    items: t.items.clone(),
                    warehouses: t.warehouses.clone(),
                    idempotency: t.idempotency.clone(),
                },
                faults.clone(),
            ),
            warehouses: DynamoWarehouses::new(dynamo, &t.warehouses),
            faults,
        }
    }
}
