//! `aisle-local`: create the template's resources locally, print the functions' local
//! environment, seed demo data. Endpoints come from `infra/scripts/env.sh`.
//!
//! ```text
//! aisle-local create-resources [--prefix P]   tables, queues, bus from template.yaml
//! aisle-local env [--prefix P]                the functions' environment, KEY=VALUE lines
//! aisle-local seed [--prefix P]               warehouse sites
//! aisle-local bench checkout                  holds/s under contention; DynamoDB cost per call
//! ```

use aisle::{App, Config};
use aisle_local::template::Template;
use aisle_local::{
    dynamo_client, endpoint, events_client, local_clients, local_sdk_config, resources, seed,
    sqs_client, DEFAULT_PREFIX,
};
use anyhow::{bail, Result};

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let prefix = match args.iter().position(|a| a == "--prefix") {
        Some(i) => args.get(i + 1).cloned().unwrap_or_default(),
        None => std::env::var("AISLE_TABLE_PREFIX").unwrap_or_else(|_| DEFAULT_PREFIX.into()),
    };
    let template = Template::load_repo()?;
    let sdk = local_sdk_config().await;
    let dynamo = dynamo_client(&sdk, &endpoint("AWS_ENDPOINT_URL_DYNAMODB", 8000));
    match args.first().map(String::as_str) {
        Some("create-resources") => {
            let tables = resources::create_tables(&dynamo, &prefix, &template).await?;
            let moto = endpoint("AWS_ENDPOINT_URL_SQS", 5000);
            let queues =
                resources::create_queues(&sqs_client(&sdk, &moto), &prefix, &template).await?;
            resources::create_buses(
                &events_client(&sdk, &endpoint("AWS_ENDPOINT_URL_EVENTBRIDGE", 5000)),
                &prefix,
                &template,
            )
            .await?;
            eprintln!(
                "[aisle-local] {} tables, {} queues, {} event buses ready (prefix {prefix:?})",
                tables.len(),
                queues.len(),
                template.buses.len()
            );
        }
        Some("env") => {
            for (name, value) in template.local_env(&prefix)? {
                println!("{name}={value}");
            }
        }
        Some("seed") => {
            let env = template.local_env(&prefix)?;
            let config = Config::from_lookup(|k| env.get(k).cloned())?;
            let app = App::new(&config, local_clients(&sdk));
            let sites = seed::seed_warehouses(&app.warehouses).await?;
            eprintln!("[aisle-local] seeded {sites} warehouse sites");
        }
        Some("bench") if args.get(1).map(String::as_str) == Some("checkout") => {
            aisle_local::bench::checkout(50, 10).await?;
        }
        _ => bail!("usage: aisle-local create-resources|env|seed [--prefix P]"),
    }
    Ok(())
}
