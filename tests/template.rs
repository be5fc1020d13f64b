//! The template is the single source of truth: local tables equal its declarations,
//! `openapi.yaml` lists exactly its routes, and every function it names is a binary.

use crate::helpers;

use std::collections::BTreeSet;

use aisle_local::resources;
use helpers::{dynamo, template, Shop};

#[tokio::test]
async fn local_tables_are_exactly_the_tables_the_template_declares() {
    let shop = Shop::open().await; // creates every table under its own prefix
    let client = dynamo().await;
    for declared in &template().tables {
        let mut declared = declared.clone();
        declared.indexes.sort_by(|a, b| a.name.cmp(&b.name));
        let live = resources::describe_table(&client, &shop.prefix, &declared.logical_id)
            .await
            .unwrap();
        assert_eq!(
            live, declared,
            "{} drifted from template.yaml",
            declared.logical_id
        );
    }
    assert_eq!(template().tables.len(), 11);
}

#[tokio::test]
async fn creating_the_tables_twice_is_harmless() {
    let shop = Shop::open().await;
    let names = resources::create_tables(&dynamo().await, &shop.prefix, template())
        .await
        .unwrap();
    assert_eq!(names.len(), template().tables.len());
}

#[test]
fn openapi_lists_exactly_the_routes_of_the_template() {
    let text =
        std::fs::read_to_string(aisle_local::template::repo_root().join("openapi.yaml")).unwrap();
    let spec: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let mut documented = BTreeSet::new();
    let mut public = BTreeSet::new();
    for (path, operations) in spec["paths"].as_mapping().unwrap() {
        for (method, operation) in operations.as_mapping().unwrap() {
            let route = format!(
                "{} {}",
                method.as_str().unwrap().to_uppercase(),
                path.as_str().unwrap()
            );
            if operation
                .get("security")
                .and_then(|s| s.as_sequence())
                .is_some_and(|s| s.is_empty())
            {
                public.insert(route.clone());
            }
            documented.insert(route);
        }
    }
    let routes = &template().routes;
    let declared: BTreeSet<_> = routes
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    let declared_public: BTreeSet<_> = routes
        .iter()
        .filter(|r| r.public)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        documented, declared,
        "openapi.yaml and template.yaml routes differ"
    );
    assert_eq!(public, declared_public, "routes without auth differ");
}

#[test]
fn every_function_in_the_template_is_a_binary_and_every_binary_is_deployed() {
    let manifest =
        std::fs::read_to_string(aisle_local::template::repo_root().join("functions/Cargo.toml"))
            .unwrap();
    let binaries: BTreeSet<String> = manifest
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .map(|n| n.trim_end_matches('"').to_owned())
        .filter(|n| n != "aisle-functions")
        .collect();
    let deployed: BTreeSet<String> = aisle_local::template::Template::load_repo()
        .unwrap()
        .functions()
        .into_iter()
        .collect();
    assert_eq!(binaries, deployed);
}
