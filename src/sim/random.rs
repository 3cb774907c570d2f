//! Randomised faults: any compatible service × fault class with randomised parameters, so
//! evaluation is not limited to the scenario files.

use super::topology::{SERVICES, fault_applies};
use crate::model::{FaultClass, ServiceRole};
use crate::scenario::{FaultParams, FaultSpec};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// Classes the random generator draws from (those a Chaos Mesh manifest can express).
pub const RANDOM_CLASSES: [FaultClass; 8] = [
    FaultClass::PodFailure,
    FaultClass::NetworkPartition,
    FaultClass::NetworkDelay,
    FaultClass::Bandwidth,
    FaultClass::IoFault,
    FaultClass::CpuStress,
    FaultClass::MemoryStress,
    FaultClass::HttpAbort,
];

/// A fault of `class` on `target` with parameters drawn from `rng`.
///
/// # Errors
/// When the service does not exist or the class cannot apply to it.
pub fn fault_for(
    target: &str,
    class: FaultClass,
    rng: &mut ChaCha8Rng,
) -> Result<FaultSpec, String> {
    let service = SERVICES
        .iter()
        .find(|s| s.name == target)
        .ok_or_else(|| format!("sock-shop has no service `{target}`"))?;
    if !fault_applies(class, service) {
        return Err(format!(
            "fault class `{class}` cannot target `{target}` ({:?})",
            service.role
        ));
    }
    let mut params = FaultParams {
        mode: "all".to_owned(),
        ..FaultParams::default()
    };
    let mut peer = None;
    match class {
        FaultClass::NetworkDelay => {
            params.latency = Some(Duration::from_millis(rng.random_range(150..=600)))
        }
        FaultClass::Bandwidth => {
            params.bandwidth_bytes_per_sec = Some(f64::from(rng.random_range(25_000_u32..=200_000)))
        }
        FaultClass::IoFault => {
            params.io_error_percent = Some(f64::from(rng.random_range(30_u32..=80)));
            params.errno = Some(5);
        }
        FaultClass::MemoryStress => {
            params.memory_bytes = Some(u64::from(rng.random_range(400_u32..=900)) * 1_000_000);
            params.workers = Some(rng.random_range(1..=4));
        }
        FaultClass::CpuStress => {
            params.workers = Some(rng.random_range(1..=2));
            params.cpu_load_percent = Some(rng.random_range(60..=100));
        }
        FaultClass::NetworkPartition => {
            // Cut the target off from one of its callers (or, for a leaf with one caller, that caller).
            let callers: Vec<&str> = super::topology::EDGES
                .iter()
                .filter(|(_, callee, _)| *callee == target)
                .map(|(caller, _, _)| *caller)
                .collect();
            if !callers.is_empty() && service.role != ServiceRole::Gateway {
                peer = Some(callers[rng.random_range(0..callers.len())].to_owned());
            }
        }
        _ => {}
    }
    Ok(FaultSpec {
        class,
        target: target.to_owned(),
        peer,
        params,
    })
}

/// A random (service, class) fault for evaluation run `index` of `seed`.
#[must_use]
pub fn random_fault(seed: u64) -> FaultSpec {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x9e37_79b9_7f4a_7c15);
    loop {
        let service = &SERVICES[rng.random_range(0..SERVICES.len())];
        let class = RANDOM_CLASSES[rng.random_range(0..RANDOM_CLASSES.len())];
        if let Ok(spec) = fault_for(service.name, class, &mut rng) {
            return spec;
        }
    }
}
