//! Creates the template's tables, queues and event bus on DynamoDB Local and moto, and reads
//! tables back so tests can prove the live layout equals the declared one. Every step is
//! idempotent: resources that already exist are left as they are.

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, Result};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;

use crate::template::{bucket_name, local_name, IndexDef, TableDef, Template};

fn key_elements(key: &[(String, String)]) -> Result<Vec<KeySchemaElement>> {
    key.iter()
        .map(|(name, kind)| {
            Ok(KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(KeyType::from(kind.as_str()))
                .build()?)
        })
        .collect()
}

/// Create one table (and its TTL setting) unless it exists.
pub async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    prefix: &str,
    def: &TableDef,
) -> Result<String> {
    let name = local_name(prefix, &def.logical_id);
    let mut request = client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest);
    for (attr, kind) in &def.attributes {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attr)
                .attribute_type(ScalarAttributeType::from(kind.as_str()))
                .build()?,
        );
    }
    request = request.set_key_schema(Some(key_elements(&def.key)?));
    for index in &def.indexes {
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(&index.name)
                .set_key_schema(Some(key_elements(&index.key)?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(index.projection.as_str()))
                        .build(),
                )
                .build()?,
        );
    }
    if let Some(view) = &def.stream_view {
        request = request.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(view.as_str()))
                .build()?,
        );
    }
    match request.send().await {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) =>
        {
            return Ok(name)
        }
        Err(e) => return Err(e).with_context(|| format!("creating table {name}")),
    }
    if let Some(attr) = &def.ttl_attribute {
        client
            .update_time_to_live()
            .table_name(&name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(attr)
                    .enabled(true)
                    .build()?,
            )
            .send()
            .await
            .with_context(|| format!("enabling TTL on {name}"))?;
    }
    Ok(name)
}

/// Read a live table back into the template's shape.
pub async fn describe_table(
    client: &aws_sdk_dynamodb::Client,
    prefix: &str,
    logical_id: &str,
) -> Result<TableDef> {
    let name = local_name(prefix, logical_id);
    let table = client
        .describe_table()
        .table_name(&name)
        .send()
        .await?
        .table
        .context("no table description")?;
    let keys = |k: &[KeySchemaElement]| -> Vec<(String, String)> {
        k.iter()
            .map(|e| {
                (
                    e.attribute_name().to_owned(),
                    e.key_type().as_str().to_owned(),
                )
            })
            .collect()
    };
    let ttl = client
        .describe_time_to_live()
        .table_name(&name)
        .send()
        .await?;
    let ttl_attribute = ttl
        .time_to_live_description()
        .filter(|d| {
            d.time_to_live_status()
                .is_some_and(|s| s.as_str() == "ENABLED")
        })
        .and_then(|d| d.attribute_name())
        .map(str::to_owned);
    let mut indexes: Vec<IndexDef> = table
        .global_secondary_indexes()
        .iter()
        .map(|g| IndexDef {
            name: g.index_name().unwrap_or_default().to_owned(),
            key: keys(g.key_schema()),
            projection: g
                .projection()
                .and_then(|p| p.projection_type())
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default(),
        })
        .collect();
    indexes.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(TableDef {
        logical_id: logical_id.to_owned(),
        attributes: table
            .attribute_definitions()
            .iter()
            .map(|a| {
                (
                    a.attribute_name().to_owned(),
                    a.attribute_type().as_str().to_owned(),
                )
            })
            .collect::<BTreeMap<_, _>>(),
        key: keys(table.key_schema()),
        indexes,
        stream_view: table
            .stream_specification()
            .filter(|s| s.stream_enabled())
            .and_then(|s| s.stream_view_type())
            .map(|v| v.as_str().to_owned()),
        ttl_attribute,
    })
}

/// Create every SQS queue (dead-letter queues first, so redrive policies can name them).
pub async fn create_queues(
    client: &aws_sdk_sqs::Client,
    prefix: &str,
    template: &Template,
) -> Result<HashMap<String, String>> {
    let mut urls = HashMap::new();
    let mut queues = template.queues.clone();
    queues.sort_by_key(|q| q.redrive.is_some());
    for queue in &queues {
        let mut name = local_name(prefix, &queue.logical_id);
        let mut request = client.create_queue();
        if queue.fifo {
            name.push_str(".fifo");
            request = request.attributes(QueueAttributeName::FifoQueue, "true");
        }
        if let Some(v) = queue.visibility_timeout {
            request = request.attributes(QueueAttributeName::VisibilityTimeout, v.to_string());
        }
        if let Some(d) = queue.delay_seconds {
            request = request.attributes(QueueAttributeName::DelaySeconds, d.to_string());
        }
        if let Some((dlq, max)) = &queue.redrive {
            let dlq_url: &String = urls
                .get(dlq)
                .with_context(|| format!("{}: unknown DLQ {dlq}", queue.logical_id))?;
            let arn = client
                .get_queue_attributes()
                .queue_url(dlq_url)
                .attribute_names(QueueAttributeName::QueueArn)
                .send()
                .await?
                .attributes
                .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
                .context("DLQ without an ARN")?;
            let policy = serde_json::json!({ "deadLetterTargetArn": arn, "maxReceiveCount": max })
                .to_string();
            request = request.attributes(QueueAttributeName::RedrivePolicy, policy);
        }
        let out = request
            .queue_name(&name)
            .send()
            .await
            .with_context(|| format!("creating queue {name}"))?;
        urls.insert(queue.logical_id.clone(), out.queue_url.unwrap_or_default());
    }
    // Where moto puts each rule's matches for the local gateway to deliver (see rules.rs).
    for rule in &template.rules {
        let staging = rule.staging_queue();
        let name = local_name(prefix, &staging);
        let out = client
            .create_queue()
            .queue_name(&name)
            .send()
            .await
            .with_context(|| format!("creating queue {name}"))?;
        urls.insert(staging, out.queue_url.unwrap_or_default());
    }
    Ok(urls)
}

/// Create every custom event bus.
pub async fn create_buses(
    client: &aws_sdk_eventbridge::Client,
    prefix: &str,
    template: &Template,
) -> Result<()> {
    for bus in &template.buses {
        let name = local_name(prefix, bus);
        match client.create_event_bus().name(&name).send().await {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_already_exists_exception()) => {}
            Err(e) => return Err(e).with_context(|| format!("creating event bus {name}")),
        }
    }
    Ok(())
}

/// Create every bucket (moto's S3), named as [`bucket_name`] names them, versioned where the
/// template versions it. Idempotent.
pub async fn create_buckets(
    client: &aws_sdk_s3::Client,
    prefix: &str,
    template: &Template,
) -> Result<Vec<String>> {
    let mut made = Vec::new();
    for bucket in &template.buckets {
        let name = bucket_name(prefix, &bucket.logical_id);
        match client.create_bucket().bucket(&name).send().await {
            Ok(_) => {}
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.is_bucket_already_owned_by_you() || s.is_bucket_already_exists()
                }) => {}
            Err(e) => return Err(e).with_context(|| format!("creating bucket {name}")),
        }
        if !bucket.cors.is_empty() {
            // moto answers preflights and sets the allow-origin headers from this, as S3 does.
            let rules = bucket
                .cors
                .iter()
                .map(|(origins, methods)| {
                    aws_sdk_s3::types::CorsRule::builder()
                        .set_allowed_origins(Some(origins.clone()))
                        .set_allowed_methods(Some(methods.clone()))
                        .allowed_headers("*")
                        .max_age_seconds(3000)
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()?;
            client
                .put_bucket_cors()
                .bucket(&name)
                .cors_configuration(
                    aws_sdk_s3::types::CorsConfiguration::builder()
                        .set_cors_rules(Some(rules))
                        .build()?,
                )
                .send()
                .await
                .with_context(|| format!("CORS of bucket {name}"))?;
        }
        if bucket.versioned {
            client
                .put_bucket_versioning()
                .bucket(&name)
                .versioning_configuration(
                    aws_sdk_s3::types::VersioningConfiguration::builder()
                        .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                        .build(),
                )
                .send()
                .await
                .with_context(|| format!("versioning bucket {name}"))?;
        }
        made.push(name);
    }
    Ok(made)
}

/// Store the local Stripe keys under the template's `StripeSecretName` (moto's Secrets
/// Manager), as a deployer stores the real ones before the first deploy. Idempotent.
pub async fn create_stripe_secret(
    client: &aws_sdk_secretsmanager::Client,
    template: &Template,
) -> Result<String> {
    let name = template
        .parameter_default("StripeSecretName")
        .ok_or_else(|| anyhow::anyhow!("template.yaml has no StripeSecretName default"))?;
    let value = serde_json::json!({
        "apiKey": crate::LOCAL_STRIPE_API_KEY,
        "webhookSecret": crate::LOCAL_STRIPE_WEBHOOK_SECRET,
    })
    .to_string();
    match client
        .create_secret()
        .name(&name)
        .secret_string(&value)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_exists_exception()) => {}
        Err(e) => return Err(e).with_context(|| format!("creating secret {name}")),
    }
    Ok(name)
}

/// Verify the domain of the template's `MailFrom` in moto's SES (moto, as SES, refuses mail
/// from an unverified sender); the domain, for the caller's message. Idempotent.
pub async fn create_mail_identity(
    client: &aws_sdk_sesv2::Client,
    template: &Template,
) -> Result<String> {
    let from = template
        .parameter("MailFrom")
        .ok_or_else(|| anyhow::anyhow!("template.yaml has no MailFrom default"))?;
    let domain = crate::mailbox::sender_domain(&from)
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("MailFrom {from:?} has no domain"))?;
    match client
        .create_email_identity()
        .email_identity(&domain)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_already_exists_exception()) => {}
        Err(e) => return Err(e).with_context(|| format!("verifying {domain} in SES")),
    }
    Ok(domain)
}

/// Create the template's SES configuration sets (those whose condition holds with the
/// parameters at their defaults) in moto, named with `prefix`. Their event destinations are
/// not moto's to keep: the IAM proxy plays them ([`crate::ses_events`]).
pub async fn create_mail_configuration_sets(
    client: &aws_sdk_sesv2::Client,
    prefix: &str,
    template: &Template,
) -> Result<usize> {
    let mut made = 0;
    for id in template.resources_of_type("AWS::SES::ConfigurationSet") {
        if !template.resource_condition_holds(&id) {
            continue;
        }
        let name = local_name(prefix, &id);
        match client
            .create_configuration_set()
            .configuration_set_name(&name)
            .send()
            .await
        {
            Ok(_) => made += 1,
            // SES says AlreadyExistsException; moto names it ConfigurationSetAlreadyExists.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_already_exists_exception())
                    || aws_sdk_sesv2::error::ProvideErrorMetadata::code(&e)
                        == Some("ConfigurationSetAlreadyExistsException") => {}
            Err(e) => return Err(e).with_context(|| format!("creating configuration set {name}")),
        }
    }
    Ok(made)
}

/// Create every EventBridge rule (rules and targets are upserts). moto's one target per rule
/// is the rule's staging queue: moto delivers to any queue unconditionally, so the local
/// gateway takes the deliveries from there to the template's targets as EventBridge does,
/// checking each queue's policy and sending what fails to the target's dead-letter queue
/// (`rules.rs`).
pub async fn create_rules(
    client: &aws_sdk_eventbridge::Client,
    prefix: &str,
    template: &Template,
) -> Result<()> {
    for rule in &template.rules {
        let name = local_name(prefix, &rule.logical_id);
        let bus = rule.bus.as_ref().map(|b| local_name(prefix, b));
        client
            .put_rule()
            .name(&name)
            .set_event_bus_name(bus.clone())
            .event_pattern(rule.pattern.to_string())
            .send()
            .await
            .with_context(|| format!("creating rule {name}"))?;
        let arn = format!(
            "arn:aws:sqs:us-east-1:{}:{}",
            crate::template::MOTO_ACCOUNT,
            local_name(prefix, &rule.staging_queue())
        );
        let target = aws_sdk_eventbridge::types::Target::builder()
            .id("staging")
            .arn(arn)
            .build()?;
        client
            .put_targets()
            .rule(&name)
            .set_event_bus_name(bus.clone())
            .targets(target)
            .send()
            .await?;
    }
    Ok(())
}

/// Create all of the template's tables.
pub async fn create_tables(
    client: &aws_sdk_dynamodb::Client,
    prefix: &str,
    template: &Template,
) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for def in &template.tables {
        names.push(create_table(client, prefix, def).await?);
    }
    Ok(names)
}
