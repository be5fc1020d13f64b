//! What a local stack is made of: `template.yaml` read once ([`template`]), its tables,
//! queues and bus created on DynamoDB Local and moto ([`resources`]), and demo data
//! ([`seed`], from the product texts in [`products`] and the store locations Aisle copied).

pub mod pictures;
pub mod products;
pub mod resources;
pub mod seed;
pub mod template;
