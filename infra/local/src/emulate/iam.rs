//! IAM, enforced locally. DynamoDB Local and moto accept every call; AWS checks each one
//! against the calling function's role. This module closes that gap: a loopback proxy in front
//! of DynamoDB Local and moto that knows which function is calling, works out what IAM would
//! ask of the call (action and resource ARN, per item for transactions and batches), checks it
//! against *that function's* `Policies` in `template.yaml`, and answers a denied call the way
//! AWS does (HTTP 400 `AccessDeniedException`), so the adapters meet exactly what they would
//! meet in AWS.
//!
//! - **Who is calling**: every function's SDK clients carry the function's name as their SDK
//!   app name (`app/<name>` in the user agent; `aisle::App::connect` sets it from
//!   `AWS_LAMBDA_FUNCTION_NAME`, harmless in AWS). A caller without one (local tooling, tests
//!   acting as the whole shop at once) is passed through unchecked and logged as such.
//! - **What is granted**: each `Policies` entry, expanded as SAM expands it: a policy template
//!   from SAM's own definitions (`infra/iam/sam-policy-templates.json`, copied from
//!   `aws-sam-translator`), or an inline `Statement`; `Ref`, `GetAtt` and `Sub` resolved to
//!   the local resources' ARNs (`/index/*`, `/stream/*` included). Actions and resources
//!   match with IAM's `*` and `?` wildcards. A statement with a `Condition` grants nothing
//!   here (this check cannot evaluate conditions; none of Aisle's function policies has one).
//! - **What a call needs**: the operation from `X-Amz-Target`, the resources from the JSON
//!   body (`TableName`, `IndexName`, `RequestItems`, `TransactItems`, `QueueUrl`,
//!   `EventBusName`), per IAM's rules (a `TransactWriteItems` needs `PutItem`/`UpdateItem`/
//!   `DeleteItem`/`ConditionCheckItem` on each item's table; `SendMessageBatch` needs
//!   `SendMessage`).
//!
//! Every decision is appended to a JSON-lines log (`iam-report` reads it: actions used versus
//! granted, per function).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, bail, Context, Result};
use http_body_util::Full;
use hyper::body::Bytes;
use serde_json::{json, Value as Json};
use serde_yaml::Value;
use tokio::net::TcpListener;

use crate::template::{get_att, local_name, reference, Template, MOTO_ACCOUNT};

/// One statement of a function's policy, resolved to local ARNs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// `Allow` or (if false) `Deny`.
    pub allow: bool,
    /// Action patterns (`dynamodb:GetItem`, `sqs:SendMessage*`).
    pub actions: Vec<String>,
    /// Resource ARN patterns.
    pub resources: Vec<String>,
    /// Where the statement came from (`DynamoDBReadPolicy`, `Statement`), for reports.
    pub origin: String,
}

/// What a check decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// A statement allows it and none denies it.
    Allowed,
    /// Nothing allows it (or a statement denies it).
    Denied,
    /// The caller is no function of the template: not checked.
    Unchecked,
}

/// Every function's policy, by the name its process runs under (its cargo binary).
#[derive(Debug, Clone)]
pub struct Policies {
    /// Binary name → (logical id, statements).
    functions: BTreeMap<String, (String, Vec<Statement>)>,
    region: String,
    /// OpenSearch: the domain's name and the alias as the template names it, and the
    /// run's local alias (its prefix's), which requests name instead.
    search: Option<SearchNames>,
}

/// How an OpenSearch request's path becomes the resource the template's grants name.
#[derive(Debug, Clone)]
struct SearchNames {
    domain: String,
    template_index: String,
    local_index: String,
}

/// The repository's copy of SAM's policy-template definitions.
pub fn sam_policy_templates() -> Result<Json> {
    let path = crate::template::repo_root().join("infra/iam/sam-policy-templates.json");
    let text = std::fs::read_to_string(&path).with_context(|| path.display().to_string())?;
    Ok(serde_json::from_str(&text)?)
}

impl Policies {
    /// Expand every function's `Policies` in `template` (resources named with `prefix`).
    pub fn from_template(template: &Template, prefix: &str) -> Result<Self> {
        Self::expand(template, prefix, &sam_policy_templates()?)
    }

    /// [`Policies::from_template`] with SAM's definitions given.
    pub fn expand(template: &Template, prefix: &str, sam: &Json) -> Result<Self> {
        let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
        let resolver = Resolver {
            template,
            prefix,
            region: &region,
        };
        let mut functions = BTreeMap::new();
        for (logical, binary) in &template.function_binaries {
            let mut statements = Vec::new();
            for entry in template.function_policies(logical) {
                statements.extend(
                    resolver
                        .entry(&entry, sam)
                        .with_context(|| format!("{logical}: Policies entry {entry:?}"))?,
                );
            }
            functions.insert(binary.clone(), (logical.clone(), statements));
        }
        let search = template
            .parameter_default("SearchDomainName")
            .zip(template.function_env_literal("OPENSEARCH_INDEX"))
            .map(|(domain, template_index)| SearchNames {
                domain,
                template_index,
                local_index: crate::template::local_search_index(prefix),
            });
        Ok(Self {
            functions,
            region,
            search,
        })
    }

    /// Whether `function` (a binary name) may perform `action` on `resource`.
    pub fn decide(&self, function: &str, action: &str, resource: &str) -> Decision {
        let Some((_, statements)) = self.functions.get(function) else {
            return Decision::Unchecked;
        };
        let applies = |s: &&Statement| {
            s.actions.iter().any(|a| glob(a, action, true))
                && s.resources.iter().any(|r| glob(r, resource, false))
        };
        if statements.iter().filter(|s| !s.allow).any(|s| applies(&s)) {
            return Decision::Denied;
        }
        if statements.iter().filter(|s| s.allow).any(|s| applies(&s)) {
            Decision::Allowed
        } else {
            Decision::Denied
        }
    }

    /// A function's statements (binary name), with its logical id.
    pub fn of(&self, function: &str) -> Option<(&str, &[Statement])> {
        self.functions
            .get(function)
            .map(|(logical, s)| (logical.as_str(), s.as_slice()))
    }

    /// Every function's binary name.
    pub fn functions(&self) -> impl Iterator<Item = &str> {
        self.functions.keys().map(String::as_str)
    }

    /// The local ARN prefix of this region and account (`arn:aws:<service>:<region>:<account>:`).
    pub fn arn(&self, service: &str, rest: &str) -> String {
        format!("arn:aws:{service}:{}:{MOTO_ACCOUNT}:{rest}", self.region)
    }
}

/// One statement of an SQS queue policy (`AWS::SQS::QueuePolicy`), resolved to local names:
/// what a service principal such as `events.amazonaws.com` may do to the listed queues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueGrant {
    /// The queues the policy is attached to (URLs).
    pub queues: Vec<String>,
    /// `Allow` or (if false) `Deny`.
    pub allow: bool,
    /// Service principals (`Principal: { Service: ... }`).
    pub services: Vec<String>,
    /// Action patterns.
    pub actions: Vec<String>,
    /// Resource ARN patterns.
    pub resources: Vec<String>,
    /// `Condition: { ArnEquals | ArnLike: { aws:SourceArn: [...] } }`, if given.
    pub source_arns: Option<Vec<String>>,
}

/// Every queue policy of a template, for the local gateway's rule deliveries: a queue takes a
/// message from EventBridge only if its own policy allows the rule to send it, as in AWS.
#[derive(Debug, Clone, Default)]
pub struct QueuePolicies {
    grants: Vec<QueueGrant>,
    region: String,
}

impl QueuePolicies {
    /// The queue policies of `template` (resources named with `prefix`).
    pub fn from_template(template: &Template, prefix: &str) -> Result<Self> {
        let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
        let resolver = Resolver {
            template,
            prefix,
            region: &region,
        };
        let strings = |v: Option<&Value>| -> Result<Vec<String>> {
            match v {
                Some(Value::Sequence(list)) => list.iter().map(|x| resolver.yaml(x)).collect(),
                Some(one) => Ok(vec![resolver.yaml(one)?]),
                None => Ok(vec![]),
            }
        };
        let mut grants = Vec::new();
        for logical in template.resources_of_type("AWS::SQS::QueuePolicy") {
            let props = template
                .resource_properties(&logical)
                .with_context(|| format!("{logical}: no Properties"))?;
            let Ok(queues) = strings(props.get("Queues")) else {
                continue;
            };
            let statements = props
                .get("PolicyDocument")
                .and_then(|d| d.get("Statement"))
                .and_then(Value::as_sequence)
                .cloned()
                .unwrap_or_default();
            for st in statements {
                let grant = || -> Result<QueueGrant> {
                    // `StringEquals: {aws:SourceAccount: <this account>}` holds for every
                    // local resource (one account); another account's never does.
                    let account = st
                        .get("Condition")
                        .and_then(|c| c.get("StringEquals"))
                        .and_then(|t| t.get("aws:SourceAccount"));
                    if let Some(account) = account {
                        if strings(Some(account))?.iter().any(|a| a != MOTO_ACCOUNT) {
                            anyhow::bail!("{logical}: another account");
                        }
                    }
                    let source_arns = match st.get("Condition").filter(|_| account.is_none()) {
                        None => None,
                        Some(c) => {
                            let test = c
                                .get("ArnEquals")
                                .or_else(|| c.get("ArnLike"))
                                .and_then(|t| t.get("aws:SourceArn"))
                                .with_context(|| {
                                    format!("{logical}: only aws:SourceArn conditions are emulated")
                                })?;
                            Some(strings(Some(test))?)
                        }
                    };
                    Ok(QueueGrant {
                        queues: queues.clone(),
                        allow: st.get("Effect").and_then(Value::as_str) != Some("Deny"),
                        services: strings(st.get("Principal").and_then(|p| p.get("Service")))?,
                        actions: strings(st.get("Action"))?,
                        resources: strings(st.get("Resource"))?,
                        source_arns,
                    })
                };
                // A statement naming what the local run does not model (the rules SAM makes
                // for schedules) grants nothing here: the relay delivers only the template's
                // own rules, so such a statement is never the one asked.
                if let Ok(grant) = grant() {
                    grants.push(grant);
                }
            }
        }
        Ok(Self { grants, region })
    }

    /// Whether `service` may perform `action` on the queue at `queue_url` (ARN `queue_arn`)
    /// for the resource `source_arn` (the rule), by the queue's own policy.
    pub fn allows(
        &self,
        service: &str,
        action: &str,
        queue_url: &str,
        queue_arn: &str,
        source_arn: &str,
    ) -> bool {
        let applies = |g: &&QueueGrant| {
            g.queues.iter().any(|q| q == queue_url)
                && g.services.iter().any(|s| s == service)
                && g.actions.iter().any(|a| glob(a, action, true))
                && g.resources.iter().any(|r| glob(r, queue_arn, false))
                && g.source_arns
                    .as_ref()
                    .is_none_or(|arns| arns.iter().any(|a| glob(a, source_arn, false)))
        };
        !self.grants.iter().filter(|g| !g.allow).any(|g| applies(&g))
            && self.grants.iter().filter(|g| g.allow).any(|g| applies(&g))
    }

    /// A local ARN of this region and account.
    pub fn arn(&self, service: &str, rest: &str) -> String {
        format!("arn:aws:{service}:{}:{MOTO_ACCOUNT}:{rest}", self.region)
    }

    /// A rule's local ARN (what a queue policy's `aws:SourceArn` names).
    pub fn rule_arn(&self, template: &Template, prefix: &str, rule: &str) -> String {
        Resolver {
            template,
            prefix,
            region: &self.region,
        }
        .rule_arn(rule)
    }
}

/// IAM's wildcard match: `*` any run of characters, `?` one character.
pub fn glob(pattern: &str, text: &str, case_insensitive: bool) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = if case_insensitive {
        (
            pattern.to_ascii_lowercase().chars().collect(),
            text.to_ascii_lowercase().chars().collect(),
        )
    } else {
        (pattern.chars().collect(), text.chars().collect())
    };
    // Iterative wildcard matching with backtracking to the last `*`.
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Resolves the template's intrinsics to local names and ARNs.
struct Resolver<'a> {
    template: &'a Template,
    prefix: &'a str,
    region: &'a str,
}

impl Resolver<'_> {
    fn arn(&self, service: &str, rest: &str) -> String {
        format!("arn:aws:{service}:{}:{MOTO_ACCOUNT}:{rest}", self.region)
    }

    /// One `Policies` entry → statements.
    fn entry(&self, entry: &Value, sam: &Json) -> Result<Vec<Statement>> {
        let Value::Mapping(map) = entry else {
            bail!("managed policies by name are not supported here; use a policy template or a Statement");
        };
        let (name, params) = map.iter().next().context("empty Policies entry")?;
        let name = name.as_str().context("entry name")?;
        if name == "Statement" {
            let list = match params {
                Value::Sequence(list) => list.clone(),
                one => vec![one.clone()],
            };
            return list
                .iter()
                .map(|s| self.yaml_statement(s, "Statement"))
                .collect::<Result<Vec<_>>>()
                .map(|v| v.into_iter().flatten().collect());
        }
        let definition = sam["Templates"][name]["Definition"]
            .as_object()
            .with_context(|| format!("{name} is not a SAM policy template"))?;
        let mut values = BTreeMap::new();
        if let Value::Mapping(params) = params {
            for (k, v) in params {
                let k = k.as_str().context("parameter name")?.to_owned();
                values.insert(k, self.yaml(v)?);
            }
        }
        let statements = match &definition["Statement"] {
            Json::Array(list) => list.clone(),
            one => vec![one.clone()],
        };
        statements
            .iter()
            .map(|s| self.sam_statement(s, &values, name))
            .collect::<Result<Vec<_>>>()
            .map(|v| v.into_iter().flatten().collect())
    }

    fn yaml_statement(&self, s: &Value, origin: &str) -> Result<Option<Statement>> {
        if s.get("Condition").is_some() {
            return Ok(None);
        }
        let strings = |v: Option<&Value>| -> Result<Vec<String>> {
            match v {
                Some(Value::Sequence(list)) => list.iter().map(|x| self.yaml(x)).collect(),
                Some(one) => Ok(vec![self.yaml(one)?]),
                None => Ok(vec![]),
            }
        };
        Ok(Some(Statement {
            allow: s.get("Effect").and_then(Value::as_str) != Some("Deny"),
            actions: strings(s.get("Action"))?,
            resources: strings(s.get("Resource"))?,
            origin: origin.to_owned(),
        }))
    }

    fn sam_statement(
        &self,
        s: &Json,
        params: &BTreeMap<String, String>,
        origin: &str,
    ) -> Result<Option<Statement>> {
        if s.get("Condition").is_some() {
            return Ok(None);
        }
        let strings = |v: &Json| -> Result<Vec<String>> {
            match v {
                Json::Array(list) => list.iter().map(|x| self.json(x, params)).collect(),
                Json::Null => Ok(vec![]),
                one => Ok(vec![self.json(one, params)?]),
            }
        };
        Ok(Some(Statement {
            allow: s["Effect"].as_str() != Some("Deny"),
            actions: strings(&s["Action"])?,
            resources: strings(&s["Resource"])?,
            origin: origin.to_owned(),
        }))
    }

    /// A SAM-definition value: `{"Ref": P}`, `{"Fn::Sub": [text, {var: value}]}`, text.
    fn json(&self, v: &Json, params: &BTreeMap<String, String>) -> Result<String> {
        match v {
            Json::String(s) => Ok(s.clone()),
            Json::Object(o) if o.contains_key("Ref") => {
                let name = o["Ref"].as_str().context("Ref")?;
                params
                    .get(name)
                    .cloned()
                    .or_else(|| self.pseudo(name))
                    .with_context(|| format!("parameter {name} not given"))
            }
            Json::Object(o) if o.contains_key("Fn::Sub") => {
                let (text, vars) = match &o["Fn::Sub"] {
                    Json::Array(parts) => (
                        parts[0].as_str().context("Sub text")?.to_owned(),
                        parts.get(1).cloned().unwrap_or(Json::Null),
                    ),
                    Json::String(s) => (s.clone(), Json::Null),
                    other => bail!("Fn::Sub {other}"),
                };
                let mut bound = BTreeMap::new();
                if let Json::Object(vars) = vars {
                    for (k, v) in vars {
                        bound.insert(k, self.json(&v, params)?);
                    }
                }
                self.substitute(&text, |name| {
                    bound
                        .get(name)
                        .cloned()
                        .or_else(|| params.get(name).cloned())
                })
            }
            other => bail!("unsupported value in a SAM policy template: {other}"),
        }
    }

    /// A template value: text, `!Ref`, `!GetAtt`, `!Sub`, and `!If` (its condition evaluated
    /// with the parameters as this run has them).
    fn yaml(&self, v: &Value) -> Result<String> {
        if let Value::Tagged(t) = v {
            if t.tag == "If" {
                let list = t.value.as_sequence().context("!If list")?;
                let condition = list
                    .first()
                    .and_then(Value::as_str)
                    .context("!If condition")?;
                let chosen = list
                    .get(if self.template.condition(condition) {
                        1
                    } else {
                        2
                    })
                    .context("!If branch")?;
                return self.yaml(chosen);
            }
        }
        if let Some(name) = reference(v) {
            return self.reference(name);
        }
        if let Some((resource, attribute)) = get_att(v) {
            return self.attribute(&resource, &attribute);
        }
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Tagged(t) if t.tag == "Sub" => {
                let text = t.value.as_str().context("!Sub text")?;
                self.substitute(text, |_| None)
            }
            Value::Mapping(m) if m.contains_key("Fn::Sub") => {
                let text = m["Fn::Sub"].as_str().context("Fn::Sub text")?;
                self.substitute(text, |_| None)
            }
            other => Err(anyhow!("unsupported value {other:?}")),
        }
    }

    fn pseudo(&self, name: &str) -> Option<String> {
        match name {
            "AWS::Partition" => Some("aws".into()),
            "AWS::Region" => Some(self.region.to_owned()),
            "AWS::AccountId" => Some(MOTO_ACCOUNT.into()),
            "AWS::StackName" => Some(self.prefix.trim_end_matches('-').to_owned()),
            _ => None,
        }
    }

    /// `${Name}` and `${Resource.Attribute}` in `text`, `vars` first.
    fn substitute(&self, text: &str, vars: impl Fn(&str) -> Option<String>) -> Result<String> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').context("unclosed ${")? + start;
            let name = &rest[start + 2..end];
            let value = match vars(name) {
                Some(v) => v,
                None => match name.split_once('.') {
                    Some((resource, attribute)) if !name.starts_with("AWS::") => {
                        self.attribute(resource, attribute)?
                    }
                    _ => self.reference(name)?,
                },
            };
            out.push_str(&value);
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// `!Ref name`: a resource's name (a queue's URL), a parameter's default, a pseudo one.
    fn reference(&self, name: &str) -> Result<String> {
        if let Some(v) = self.pseudo(name) {
            return Ok(v);
        }
        match self.template.resource_type(name) {
            Some("AWS::SQS::Queue") => Ok(crate::template::queue_url(self.prefix, name)),
            Some("AWS::S3::Bucket") => Ok(crate::template::bucket_name(self.prefix, name)),
            Some(_) => Ok(local_name(self.prefix, name)),
            None => self
                .template
                .parameter_default(name)
                .with_context(|| format!("{name}: no resource and no parameter default")),
        }
    }

    /// A rule's ARN as EventBridge names it: `rule/<bus>/<rule>` on a custom bus.
    fn rule_arn(&self, logical: &str) -> String {
        let name = local_name(self.prefix, logical);
        let bus = self
            .template
            .rules
            .iter()
            .find(|r| r.logical_id == logical)
            .and_then(|r| r.bus.as_deref());
        match bus {
            Some(bus) => self.arn(
                "events",
                &format!("rule/{}/{name}", local_name(self.prefix, bus)),
            ),
            None => self.arn("events", &format!("rule/{name}")),
        }
    }

    /// `!GetAtt resource.attribute` for the attributes policies use.
    fn attribute(&self, resource: &str, attribute: &str) -> Result<String> {
        let name = local_name(self.prefix, resource);
        Ok(match (self.template.resource_type(resource), attribute) {
            (Some("AWS::DynamoDB::Table"), "Arn") => self.arn("dynamodb", &format!("table/{name}")),
            (Some("AWS::DynamoDB::Table"), "StreamArn") => {
                self.arn("dynamodb", &format!("table/{name}/stream/*"))
            }
            (Some("AWS::SQS::Queue"), "Arn") => self.arn("sqs", &name),
            (Some("AWS::SQS::Queue"), "QueueName") => name,
            (Some("AWS::Events::EventBus"), "Arn") => {
                self.arn("events", &format!("event-bus/{name}"))
            }
            (Some("AWS::Events::EventBus"), "Name") => name,
            (Some("AWS::Events::Rule"), "Arn") => self.rule_arn(resource),
            // S3 ARNs name no region or account.
            (Some("AWS::S3::Bucket"), "Arn") => format!(
                "arn:aws:s3:::{}",
                crate::template::bucket_name(self.prefix, resource)
            ),
            (Some("AWS::OpenSearchService::Domain"), "Arn") => {
                let domain = self
                    .template
                    .parameter_default("SearchDomainName")
                    .unwrap_or(name);
                self.arn("es", &format!("domain/{domain}"))
            }
            (kind, _) => bail!("GetAtt {resource}.{attribute} ({kind:?}) is not resolved locally"),
        })
    }
}

/// What IAM asks of one call: `(action, resource ARN)` pairs, all of which must be allowed.
pub fn needs(policies: &Policies, target: &str, body: &Json) -> Vec<(String, String)> {
    let Some((service, operation)) = target.split_once('.') else {
        return vec![];
    };
    let table = |name: &str| policies.arn("dynamodb", &format!("table/{name}"));
    let text = |v: &Json| v.as_str().unwrap_or_default().to_owned();
    match service {
        s if s.starts_with("DynamoDB_") => match operation {
            "BatchGetItem" | "BatchWriteItem" => body["RequestItems"]
                .as_object()
                .map(|items| {
                    items
                        .keys()
                        .map(|t| (format!("dynamodb:{operation}"), table(t)))
                        .collect()
                })
                .unwrap_or_default(),
            "TransactWriteItems" | "TransactGetItems" => body["TransactItems"]
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|item| {
                            let (kind, inner) = item.as_object()?.iter().next()?;
                            let action = match kind.as_str() {
                                "Put" => "PutItem",
                                "Update" => "UpdateItem",
                                "Delete" => "DeleteItem",
                                "ConditionCheck" => "ConditionCheckItem",
                                "Get" => "GetItem",
                                _ => return None,
                            };
                            Some((
                                format!("dynamodb:{action}"),
                                table(&text(&inner["TableName"])),
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default(),
            _ => {
                let mut arn = table(&text(&body["TableName"]));
                if let Some(index) = body["IndexName"].as_str() {
                    arn = format!("{arn}/index/{index}");
                }
                vec![(format!("dynamodb:{operation}"), arn)]
            }
        },
        "AmazonSQS" => {
            // Batch calls are authorized as their single-message action.
            let action = operation.trim_end_matches("Batch");
            let queue = body["QueueUrl"]
                .as_str()
                .and_then(|u| u.rsplit('/').next())
                .or_else(|| body["QueueName"].as_str())
                .unwrap_or_default();
            vec![(format!("sqs:{action}"), policies.arn("sqs", queue))]
        }
        "AWSEvents" => {
            let buses: Vec<String> = match body["Entries"].as_array() {
                Some(entries) => entries
                    .iter()
                    .map(|e| e["EventBusName"].as_str().unwrap_or("default").to_owned())
                    .collect(),
                None => vec![body["EventBusName"]
                    .as_str()
                    .unwrap_or("default")
                    .to_owned()],
            };
            let mut buses = buses;
            buses.sort();
            buses.dedup();
            buses
                .into_iter()
                .map(|bus| {
                    let arn = if bus.starts_with("arn:") {
                        bus
                    } else {
                        policies.arn("events", &format!("event-bus/{bus}"))
                    };
                    (format!("events:{operation}"), arn)
                })
                .collect()
        }
        "secretsmanager" => {
            // A secret named without its ARN is authorized against its full ARN, which ends in
            // `-` and six random characters (moto's are random too): any six stand in here
            // (lowercase, so the report never reads them as a run's resource prefix).
            let id = text(&body["SecretId"]);
            let arn = if id.starts_with("arn:") {
                id
            } else {
                policies.arn("secretsmanager", &format!("secret:{id}-abc123"))
            };
            vec![(format!("secretsmanager:{operation}"), arn)]
        }
        _ => vec![],
    }
}

/// What a REST-JSON call needs (services whose operation is in the path, not in
/// `x-amz-target`): SES v2's `SendEmail` (`POST /v2/email/outbound-emails`) on the sender's
/// identity (its domain's) and, if named, the configuration set
/// (https://docs.aws.amazon.com/ses/latest/dg/control-user-access.html).
pub fn needs_rest(
    policies: &Policies,
    method: &str,
    path: &str,
    body: &Json,
) -> Vec<(String, String)> {
    if method != "POST" || path != "/v2/email/outbound-emails" {
        return vec![];
    }
    let from = body["FromEmailAddress"].as_str().unwrap_or_default();
    let domain = crate::mailbox::sender_domain(from).unwrap_or(from);
    let mut needs = vec![(
        "ses:SendEmail".to_owned(),
        policies.arn("ses", &format!("identity/{domain}")),
    )];
    if let Some(set) = body["ConfigurationSetName"].as_str() {
        needs.push((
            "ses:SendEmail".to_owned(),
            policies.arn("ses", &format!("configuration-set/{set}")),
        ));
    }
    needs
}

/// What an OpenSearch call needs (a request signed for `es`): `es:ESHttp<Method>` on the
/// domain's path, the local alias read as the template's
/// (https://docs.aws.amazon.com/opensearch-service/latest/developerguide/ac.html).
pub fn needs_es(policies: &Policies, method: &str, path: &str) -> Vec<(String, String)> {
    let Some(names) = &policies.search else {
        return vec![];
    };
    let path = path
        .split('?')
        .next()
        .unwrap_or_default()
        .trim_start_matches('/');
    let path = path.replace(&names.local_index, &names.template_index);
    let verb = match method {
        "GET" => "Get",
        "POST" => "Post",
        "PUT" => "Put",
        "DELETE" => "Delete",
        "HEAD" => "Head",
        "PATCH" => "Patch",
        other => other,
    };
    vec![(
        format!("es:ESHttp{verb}"),
        policies.arn("es", &format!("domain/{}/{path}", names.domain)),
    )]
}

/// What an S3 call needs (a request signed for `s3`, path-style: `/<bucket>[/<key>]`): the
/// object actions on `arn:aws:s3:::<bucket>/<key>`, listing on the bucket
/// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html).
pub fn needs_s3(method: &str, path: &str, query: &str, body: &[u8]) -> Vec<(String, String)> {
    let path = path.trim_start_matches('/');
    let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
    if bucket.is_empty() {
        return vec![("s3:ListAllMyBuckets".into(), "*".into())];
    }
    // DeleteObjects (`POST /<bucket>?delete`): s3:DeleteObject on every key it names.
    if method == "POST"
        && key.is_empty()
        && query
            .split('&')
            .any(|p| p == "delete" || p.starts_with("delete="))
    {
        let text = String::from_utf8_lossy(body);
        return text
            .split("<Key>")
            .skip(1)
            .filter_map(|rest| rest.split_once("</Key>"))
            .map(|(k, _)| {
                (
                    "s3:DeleteObject".to_owned(),
                    format!("arn:aws:s3:::{bucket}/{k}"),
                )
            })
            .collect();
    }
    let action = match (method, key.is_empty()) {
        ("GET", true) if query.contains("list-type=2") || query.is_empty() => "ListBucket",
        ("PUT", true) => "CreateBucket",
        ("GET" | "HEAD", false) => "GetObject",
        ("PUT" | "POST", false) => "PutObject",
        ("DELETE", false) => "DeleteObject",
        ("DELETE", true) => "DeleteBucket",
        _ => return vec![],
    };
    let resource = if key.is_empty() {
        format!("arn:aws:s3:::{bucket}")
    } else {
        format!("arn:aws:s3:::{bucket}/{key}")
    };
    vec![(format!("s3:{action}"), resource)]
}

/// Whether a request is signed for S3 (`.../s3/aws4_request` in its credential scope).
fn signed_for_s3(authorization: &str) -> bool {
    authorization.contains("/s3/aws4_request")
}

/// Whether a request is signed for OpenSearch (`.../es/aws4_request` in its credential scope).
fn signed_for_es(authorization: &str) -> bool {
    authorization.contains("/es/aws4_request")
}

/// The function named in an SDK user agent (`app/<name>`), if any.
pub fn caller(user_agent: &str) -> Option<&str> {
    user_agent
        .split_whitespace()
        .find_map(|part| part.strip_prefix("app/"))
}

/// Where decisions are appended, one JSON object per line.
#[derive(Debug, Clone)]
pub struct DecisionLog {
    file: Arc<Mutex<Option<std::fs::File>>>,
}

impl DecisionLog {
    /// Append to `path` (created if absent); `None` logs nothing.
    pub fn open(path: Option<PathBuf>) -> Result<Self> {
        let file = match path {
            Some(path) => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                Some(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)?,
                )
            }
            None => None,
        };
        Ok(Self {
            file: Arc::new(Mutex::new(file)),
        })
    }

    /// Append one decision (the proxies' and the local WebSocket API's).
    pub fn record(&self, function: Option<&str>, action: &str, resource: &str, decision: Decision) {
        if let Some(file) = self.file.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            let line = json!({
                "function": function, "action": action, "resource": resource,
                "decision": format!("{decision:?}"),
            });
            // One write per line: concurrent appenders never interleave within a line.
            let _ = file.write_all(format!("{line}\n").as_bytes());
        }
    }
}

/// Serve the enforcing proxy on `listener`, forwarding allowed calls to `upstream`
/// (`http://127.0.0.1:8000`). With `enforce` false, denials are logged but let through.
pub async fn serve(
    listener: TcpListener,
    upstream: String,
    policies: Arc<Policies>,
    log: DecisionLog,
    enforce: bool,
    feedback: Arc<crate::ses_events::MailFeedback>,
    notifications: Arc<crate::s3_uploads::Buckets>,
) {
    let client = crate::proxy::forwarder();
    crate::proxy::serve(listener, move |parts, body| {
        let (client, upstream, policies, log, feedback, notifications) = (
            client.clone(),
            upstream.clone(),
            policies.clone(),
            log.clone(),
            feedback.clone(),
            notifications.clone(),
        );
        async move {
            Some(
                handle(
                    parts,
                    body,
                    &client,
                    &upstream,
                    &policies,
                    &log,
                    enforce,
                    &feedback,
                    &notifications,
                )
                .await,
            )
        }
    })
    .await
}

#[allow(clippy::too_many_arguments)]
async fn handle(
    parts: http::request::Parts,
    body: Bytes,
    client: &crate::proxy::Forwarder,
    upstream: &str,
    policies: &Policies,
    log: &DecisionLog,
    enforce: bool,
    feedback: &crate::ses_events::MailFeedback,
    notifications: &crate::s3_uploads::Buckets,
) -> crate::proxy::Answer {
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    if crate::s3_uploads::is_post_form(
        &parts.method,
        parts.uri.path(),
        header("content-type"),
        header("authorization"),
    ) {
        return post_form(parts.clone(), body, client, upstream, notifications).await;
    }
    let function = caller(header("x-amz-user-agent")).or_else(|| caller(header("user-agent")));
    let target = header("x-amz-target");
    let json: Json = serde_json::from_slice(&body).unwrap_or(Json::Null);
    let es = signed_for_es(header("authorization"));
    let s3 = signed_for_s3(header("authorization"));
    let mut required = if es {
        needs_es(policies, parts.method.as_str(), parts.uri.path())
    } else if s3 {
        needs_s3(
            parts.method.as_str(),
            parts.uri.path(),
            parts.uri.query().unwrap_or_default(),
            &body,
        )
    } else {
        needs(policies, target, &json)
    };
    if target.is_empty() && !es && !s3 {
        required.extend(needs_rest(
            policies,
            parts.method.as_str(),
            parts.uri.path(),
            &json,
        ));
    }
    for (action, resource) in required {
        let decision = match function {
            Some(f) => policies.decide(f, &action, &resource),
            None => Decision::Unchecked,
        };
        log.record(function, &action, &resource, decision);
        if decision == Decision::Denied && enforce {
            let f = function.unwrap_or_default();
            let message = format!(
                "User: arn:aws:sts::{MOTO_ACCOUNT}:assumed-role/{f}-role/{f} is not authorized to perform: {action} on resource: {resource} because no identity-based policy allows the {action} action"
            );
            tracing::warn!(function = f, %action, %resource, "IAM denied");
            if es {
                // As an OpenSearch Service domain answers a request its access policy refuses.
                return hyper::Response::builder()
                    .status(403)
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(
                        json!({ "Message": message }).to_string(),
                    )))
                    .unwrap_or_else(|_| crate::proxy::plain(500, "response build"));
            }
            if s3 {
                // As S3 answers: 403 with an XML error document.
                let xml = format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code><Message>{message}</Message></Error>"
                );
                return hyper::Response::builder()
                    .status(403)
                    .header("content-type", "application/xml")
                    .body(Full::new(Bytes::from(xml)))
                    .unwrap_or_else(|_| crate::proxy::plain(500, "response build"));
            }
            let error = json!({ "__type": "com.amazon.coral.service#AccessDeniedException", "message": message });
            return hyper::Response::builder()
                .status(400)
                .header("content-type", "application/x-amz-json-1.0")
                .header("x-amzn-ErrorType", "AccessDeniedException")
                .body(Full::new(Bytes::from(error.to_string())))
                .unwrap_or_else(|_| crate::proxy::plain(500, "response build"));
        }
    }
    let sends_mail = target.is_empty()
        && parts.method == http::Method::POST
        && parts.uri.path() == "/v2/email/outbound-emails";
    let body = match target {
        "AmazonSQS.SendMessage" | "AmazonSQS.SendMessageBatch" => {
            let sender = sender_id(function, header("authorization"));
            stamp_sender(json.clone(), &sender).map_or(body, Bytes::from)
        }
        _ => body,
    };
    let created = s3.then(|| object_created(&parts, &body)).flatten();
    let answer = crate::proxy::forward(client, upstream, &parts, body).await;
    if let Some((bucket, key, size, how)) = created.filter(|_| answer.status().is_success()) {
        notifications.object_created(&bucket, &key, size, how).await;
    }
    if sends_mail && answer.status().is_success() {
        return report_mail(client, upstream, feedback, &json, answer).await;
    }
    // S3 answers a missing key with 404 only to a caller that may list the bucket, and with
    // 403 to one that may not (GetObject's and HeadObject's "Permissions" sections): moto
    // always says 404, which would hide a missing `s3:ListBucket` grant.
    if s3 && enforce && answer.status() == 404 {
        let bucket = parts
            .uri
            .path()
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or_default();
        let list = function
            .map(|f| policies.decide(f, "s3:ListBucket", &format!("arn:aws:s3:::{bucket}")));
        if list == Some(Decision::Denied) {
            return hyper::Response::builder()
                .status(403)
                .header("content-type", "application/xml")
                .body(Full::new(Bytes::from(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>",
                )))
                .unwrap_or_else(|_| crate::proxy::plain(500, "response build"));
        }
    }
    answer
}

/// A browser's form upload: checked against its signed policy as S3 checks it, then given to
/// moto, then announced to the bucket's notification queues (see [`crate::s3_uploads`]).
async fn post_form(
    parts: http::request::Parts,
    body: Bytes,
    client: &crate::proxy::Forwarder,
    upstream: &str,
    notifications: &crate::s3_uploads::Buckets,
) -> crate::proxy::Answer {
    let bucket = parts.uri.path().trim_matches('/').to_owned();
    let content_type = parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let form = match crate::s3_uploads::parse_form(&content_type, body.clone()).await {
        Ok(form) => form,
        Err(refused) => return refused.answer(),
    };
    // Every local credential has the same dummy secret (infra/scripts/env.sh).
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|_| "local".into());
    let now = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    if let Err(refused) = crate::s3_uploads::check_policy(&bucket, &form, &secret, now) {
        tracing::info!(%bucket, code = refused.code, message = %refused.message, "S3 POST refused");
        let mut answer = refused.answer();
        let origin = parts
            .headers
            .get("origin")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if notifications.allows_origin(&bucket, origin) {
            if let Ok(value) = http::HeaderValue::from_str(origin) {
                answer
                    .headers_mut()
                    .insert("access-control-allow-origin", value);
            }
        }
        return answer;
    }
    let answer = crate::proxy::forward(client, upstream, &parts, body).await;
    if answer.status().is_success() {
        let key = form.fields.get("key").cloned().unwrap_or_default();
        notifications
            .object_created(&bucket, &key, form.file.len() as u64, "Post")
            .await;
    }
    answer
}

/// The object a signed S3 request creates, if it creates one: bucket, key, size and how
/// (S3's event name suffix).
fn object_created(
    parts: &http::request::Parts,
    body: &Bytes,
) -> Option<(String, String, u64, &'static str)> {
    let path = parts.uri.path().trim_start_matches('/');
    let (bucket, key) = path.split_once('/')?;
    if key.is_empty() {
        return None;
    }
    let query = parts.uri.query().unwrap_or_default();
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let how = match parts.method.as_str() {
        "PUT" if query.contains("partNumber") => return None,
        "PUT" if header("x-amz-copy-source").is_some() => "Copy",
        "PUT" => "Put",
        "POST" if query.contains("uploadId") => "CompleteMultipartUpload",
        _ => return None,
    };
    // An aws-chunked body (the SDK's checksum trailer) says its real length in a header.
    let size = header("x-amz-decoded-content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(body.len() as u64);
    Some((
        bucket.to_owned(),
        crate::gateway::percent_decode(key),
        size,
        how,
    ))
}

/// After SES accepted a message: publish what SES would report about it (the mailbox
/// simulator's bounce or complaint, [`crate::ses_events`]) to moto's default bus, then
/// answer the sender as SES did.
async fn report_mail(
    client: &crate::proxy::Forwarder,
    upstream: &str,
    feedback: &crate::ses_events::MailFeedback,
    request: &Json,
    answer: crate::proxy::Answer,
) -> crate::proxy::Answer {
    use http_body_util::BodyExt;
    let (head, body) = answer.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let message_id = serde_json::from_slice::<Json>(&bytes)
        .ok()
        .and_then(|a| a["MessageId"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    if let Some(put) = feedback.event_for(request, &message_id, &now) {
        let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
        let request = hyper::Request::builder()
            .method("POST")
            .uri(format!("{upstream}/"))
            .header("x-amz-target", "AWSEvents.PutEvents")
            .header("content-type", "application/x-amz-json-1.1")
            .header(
                "authorization",
                format!("AWS4-HMAC-SHA256 Credential=ses/20260101/{region}/events/aws4_request, SignedHeaders=host, Signature=0"),
            )
            .body(Full::new(Bytes::from(put.to_string())));
        match request {
            Ok(request) => match client.request(request).await {
                Ok(r) if r.status().is_success() => tracing::info!("SES feedback published"),
                Ok(r) => tracing::warn!(status = %r.status(), "SES feedback refused by moto"),
                Err(e) => tracing::warn!(error = %e, "SES feedback not published"),
            },
            Err(e) => tracing::warn!(error = %e, "SES feedback not built"),
        }
    }
    hyper::Response::from_parts(head, Full::new(bytes))
}

/// The message attribute under which the proxy records each message's sender, for the local
/// SQS event source to hand on as the `SenderId` attribute SQS itself sets (moto names one
/// fixed sender for every message). A sender's own attribute of this name is overwritten, so
/// it cannot be forged through the proxy.
pub const SENDER_ATTRIBUTE: &str = "AisleLocalSenderId";

/// The local IAM role id of a warehouse system's role (`AROA` and 17 characters, as IAM's
/// are): what onboarding binds and what the warehouse's local credentials are named by.
pub fn warehouse_role_id(warehouse: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("aisle-warehouse-role:{warehouse}"));
    let hex: String = digest.iter().map(|b| format!("{b:02X}")).collect();
    format!("AROA{}", &hex[..17])
}

/// Who SQS would name as the sender of a call
/// (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html>:
/// an IAM user's id, or `<role id>:<session name>` for a role). A function runs as its own
/// role (`AROA…:<function>`); a caller whose access key id is a role id (how local warehouse
/// credentials are named, `aisle-local warehouse`) is that role's session; any other key is
/// read as an IAM user's id.
pub fn sender_id(function: Option<&str>, authorization: &str) -> String {
    if let Some(f) = function {
        return format!("{}:{f}", warehouse_role_id(&format!("function/{f}")));
    }
    let key = authorization
        .split("Credential=")
        .nth(1)
        .and_then(|c| c.split('/').next())
        .unwrap_or_default();
    if key.starts_with("AROA") {
        format!("{key}:warehouse-system")
    } else {
        key.to_owned()
    }
}

/// A `SendMessage` or `SendMessageBatch` body with every message stamped with `sender`.
fn stamp_sender(mut body: Json, sender: &str) -> Option<Vec<u8>> {
    let stamp = |message: &mut Json| {
        if let Some(m) = message.as_object_mut() {
            let attributes = m.entry("MessageAttributes").or_insert_with(|| json!({}));
            if let Some(a) = attributes.as_object_mut() {
                a.insert(
                    SENDER_ATTRIBUTE.to_owned(),
                    json!({ "DataType": "String", "StringValue": sender }),
                );
            }
        }
    };
    match body.get_mut("Entries").and_then(Json::as_array_mut) {
        Some(entries) => entries.iter_mut().for_each(stamp),
        None => stamp(&mut body),
    }
    serde_json::to_vec(&body).ok()
}

/// Per function: actions used (from the decision log) against actions granted, the grants
/// nothing used, and every denial. Printed by `aisle-local iam-report`.
pub fn report(policies: &Policies, log: &str) -> String {
    let mut used: BTreeMap<&str, BTreeMap<(String, String), (u64, bool)>> = BTreeMap::new();
    for line in log.lines() {
        let Ok(entry) = serde_json::from_str::<Json>(line) else {
            continue;
        };
        let Some(function) = entry["function"].as_str() else {
            continue;
        };
        let Some(function) = policies.functions().find(|f| *f == function) else {
            continue;
        };
        let action = entry["action"].as_str().unwrap_or_default().to_owned();
        let resource = unprefixed(&short(entry["resource"].as_str().unwrap_or_default()));
        let denied = entry["decision"] == "Denied";
        let slot = used
            .entry(function)
            .or_default()
            .entry((action, resource))
            .or_insert((0, false));
        slot.0 += 1;
        slot.1 |= denied;
    }
    let mut out = String::new();
    for function in policies.functions() {
        let Some((logical, statements)) = policies.of(function) else {
            continue;
        };
        out.push_str(&format!("{logical} ({function})\n"));
        let calls = used.get(function);
        match calls {
            None => out.push_str("  used: nothing seen\n"),
            Some(calls) => {
                for ((action, resource), (count, denied)) in calls {
                    let mark = if *denied { "DENIED" } else { "ok" };
                    out.push_str(&format!(
                        "  used    {mark:<6} {action} {resource} ×{count}\n"
                    ));
                }
            }
        }
        // Grants nothing used, one line per policy entry and resource: the actions unused.
        for s in statements.iter().filter(|s| s.allow) {
            for resource in &s.resources {
                let unused: Vec<&str> = s
                    .actions
                    .iter()
                    .filter(|action| {
                        !calls.is_some_and(|calls| {
                            calls.keys().any(|(a, r)| {
                                glob(action, a, true)
                                    && glob(&unprefixed(&short(resource)), r, false)
                            })
                        })
                    })
                    .map(String::as_str)
                    .collect();
                if unused.len() == s.actions.len() {
                    out.push_str(&format!(
                        "  UNUSED  {} {} (all of it)\n",
                        s.origin,
                        unprefixed(&short(resource))
                    ));
                } else if !unused.is_empty() {
                    out.push_str(&format!(
                        "  unused  {} {}: {}\n",
                        s.origin,
                        unprefixed(&short(resource)),
                        unused.join(" ")
                    ));
                }
            }
        }
    }
    out
}

/// A short ARN with each run's resource-name prefix taken off (`table/t1a2b-StockTable` and
/// `table/aisle-StockTable` are both `table/StockTable`): the decision log gathers calls
/// from many runs (every test makes its own tables), while policies are expanded once.
fn unprefixed(short: &str) -> String {
    short
        .split('/')
        .map(|segment| match segment.split_once('-') {
            Some((prefix, rest))
                if !prefix.is_empty()
                    && prefix
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                    && rest.starts_with(|c: char| c.is_ascii_uppercase()) =>
            {
                rest
            }
            _ => segment,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// An ARN without its `arn:aws:<service>:<region>:<account>:` prefix.
fn short(arn: &str) -> String {
    arn.splitn(6, ':').nth(5).unwrap_or(arn).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_as_iam_matches_them() {
        assert!(glob("sqs:SendMessage*", "sqs:SendMessage", true));
        assert!(glob("DYNAMODB:getitem", "dynamodb:GetItem", true));
        assert!(glob(
            "arn:aws:dynamodb:r:a:table/T/index/*",
            "arn:aws:dynamodb:r:a:table/T/index/byUser",
            false
        ));
        assert!(!glob(
            "arn:aws:dynamodb:r:a:table/T",
            "arn:aws:dynamodb:r:a:table/T/index/byUser",
            false
        ));
        assert!(!glob(
            "arn:aws:dynamodb:r:a:table/t",
            "arn:aws:dynamodb:r:a:table/T",
            false
        ));
        assert!(glob("a?c", "abc", false) && !glob("a?c", "ac", false));
    }

    #[test]
    fn the_report_matches_resources_across_runs_whatever_their_prefix() {
        assert_eq!(
            unprefixed("table/t1a2b3c-StockTable/index/x"),
            "table/StockTable/index/x"
        );
        assert_eq!(unprefixed("aisle-HoldTimerQueue"), "HoldTimerQueue");
        assert_eq!(
            unprefixed("domain/aisle-search/aisle-items/_search"),
            "domain/aisle-search/aisle-items/_search"
        );
    }

    #[test]
    fn the_caller_is_the_sdk_app_name() {
        assert_eq!(
            caller("aws-sdk-rust/1.3 os/linux lang/rust/1.90 app/get-item md/x"),
            Some("get-item")
        );
        assert_eq!(caller("aws-sdk-rust/1.3 os/linux"), None);
    }
}
