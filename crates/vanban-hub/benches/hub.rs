//! Packages per second through the hub, end to end: senders post signed edXML packages
//! (`/sendEdoc`), a receiver long-polls, downloads and acknowledges them; latency is from the
//! start of the send to the receiver holding the package's bytes. 10 KB and 1 MB attachments,
//! on SQLite and (with VANBAN_TEST_PG_URL) PostgreSQL. The hub runs as its own process (this
//! binary re-run with `serve-hub`), so its peak memory (VmHWM) is its own: it should not grow
//! with the attachment size, since the hub streams packages to disk.
//!
//! `cargo bench -p vanban-hub --bench hub -- [PACKAGES] [SENDERS]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use vanban_axis::{AxisClient, Credentials, Pickup};

fn vm_hwm_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn package(attachment: usize, i: usize, key: &vanban_pki::SoftKey, cert: &vanban_pki::Cert) -> Vec<u8> {
    use vanban_edxml as e;
    let mut data = vec![0u8; attachment];
    // Incompressible, like a PDF's image streams.
    let mut x: u64 = 0x9e3779b97f4a7c15 ^ i as u64;
    for b in data.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    data[..5].copy_from_slice(b"%PDF-");
    let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
    let doc_id = e::document_id("000.00.00.H58", day, &i.to_string(), "UBND-VP");
    let edoc = e::Edoc {
        header: e::EdocHeader {
            from: e::Organization {
                organ_id: "000.00.00.H58".into(),
                organ_name: "UBND tỉnh Bình An".into(),
                ..Default::default()
            },
            to: vec![e::Organization {
                organ_id: "000.00.77.H58".into(),
                organ_name: "UBND huyện Hòa Bình".into(),
                ..Default::default()
            }],
            document_id: doc_id.clone(),
            code: e::Code { number: i.to_string(), notation: "UBND-VP".into() },
            place: "Bình An".into(),
            promulgation_date: e::EdDate::from_date(day),
            document_type: e::DocumentTypeInfo {
                r#type: "2".into(),
                type_detail: "18".into(),
                type_name: "Công văn".into(),
            },
            subject: "Về việc triển khai chuyển đổi số".into(),
            content: "Về việc triển khai chuyển đổi số".into(),
            other_info: e::OtherInfo { priority: "0".into(), ..Default::default() },
            ..Default::default()
        },
        trace: e::TraceHeaderList {
            traces: vec![e::TraceHeader {
                organ_id: "000.00.00.H58".into(),
                timestamp: e::EdDateTime::from_naive(day.and_hms_opt(8, 0, 0).unwrap()),
            }],
            business: e::Business {
                document_id: doc_id,
                doc_type: e::BusinessDocType::New,
                reason: "Văn bản điện tử mới".into(),
                paper: "0".into(),
                ..Default::default()
            },
        },
        attachments: vec![e::Attachment {
            content_id: "cid:1".into(),
            name: "vb.pdf".into(),
            description: "vb.pdf".into(),
            content_type: "application/pdf".into(),
            data,
            zipped: true,
        }],
    };
    e::build_edoc(&edoc, Some(&e::PackageSigner { key, certificate: cert, chain: &[] })).unwrap()
}

async fn run(backend: &str, db: Option<&str>, n: usize, senders: usize, attachment: usize, pkgs: Arc<Vec<Bytes>>) {
    let dir = tempfile::tempdir().unwrap();
    if let Some(url) = db {
        // A clean schema each run.
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        for t in ["hub_addressees", "hub_packages", "hub_agencies"] {
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE IF EXISTS {t}"))).execute(&pool).await.unwrap();
        }
    }
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.arg("serve-hub").arg(dir.path());
    if let Some(url) = db {
        cmd.arg(url);
    }
    let mut child = cmd.stdout(std::process::Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    let addr = line.trim().to_owned();
    let url = format!("http://{addr}");
    let a = AxisClient::new(
        &url,
        Credentials { system_id: "tinh".into(), secret: "tinh-secret-0123456789".into() },
        vec![],
    )
    .unwrap();
    let b = AxisClient::new(
        &url,
        Credentials { system_id: "huyen".into(), secret: "huyen-secret-012345678".into() },
        vec![],
    )
    .unwrap();
    a.register_agency(&vanban_axis::Agency {
        code: "000.00.00.H58".into(),
        name: "UBND tỉnh Bình An".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    b.register_agency(&vanban_axis::Agency {
        code: "000.00.77.H58".into(),
        name: "UBND huyện Hòa Bình".into(),
        ..Default::default()
    })
    .await
    .unwrap();

    let starts: Arc<Vec<std::sync::OnceLock<Instant>>> = Arc::new((0..n).map(|_| std::sync::OnceLock::new()).collect());
    let by_doc: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>> = Arc::default();
    let t0 = Instant::now();
    let receiver = {
        let (b, starts, by_doc) = (b.clone(), starts.clone(), by_doc.clone());
        tokio::spawn(async move {
            let mut lat = Vec::with_capacity(n);
            let mut seen = std::collections::HashSet::new();
            while seen.len() < n {
                let items = b.received("edoc", 200, Some(Duration::from_secs(5))).await.unwrap();
                let got: Vec<_> =
                    futures::future::join_all(items.iter().filter(|it| !seen.contains(&it.doc_id)).map(|it| {
                        let b = b.clone();
                        let id = it.doc_id.clone();
                        async move {
                            let bytes = b.get(&id).await.unwrap();
                            let at = Instant::now();
                            b.ack(&id, Pickup::Done).await.unwrap();
                            (id, bytes.len(), at)
                        }
                    }))
                    .await;
                for (id, _len, at) in got {
                    // The sender recorded which package got which id.
                    let i = loop {
                        if let Some(i) = by_doc.lock().unwrap().get(&id).copied() {
                            break i;
                        }
                        tokio::task::yield_now().await;
                    };
                    lat.push(at - *starts[i].get().unwrap());
                    seen.insert(id);
                }
            }
            lat
        })
    };
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let tasks: Vec<_> = (0..senders)
        .map(|_| {
            let (a, next, pkgs, starts, by_doc) =
                (a.clone(), next.clone(), pkgs.clone(), starts.clone(), by_doc.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if i >= n {
                        return;
                    }
                    let _ = starts[i].set(Instant::now());
                    let ans = a
                        .send("edoc", "000.00.00.H58", &format!("bench:{i}"), pkgs[i % pkgs.len()].clone())
                        .await
                        .unwrap();
                    by_doc.lock().unwrap().insert(ans.doc_id, i);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let mut lat = receiver.await.unwrap();
    let elapsed = t0.elapsed();
    lat.sort();
    let p = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)].as_secs_f64() * 1000.0;
    println!(
        "  {backend:<10} {:>7} KB  {n:>5} packages in {:>6.2} s = {:>7.1} packages/s   p50 {:>6.1} ms  p99 {:>6.1} ms   peak RSS {:>6} MiB",
        attachment / 1024,
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        p(0.50),
        p(0.99),
        vm_hwm_kib(child.id()) / 1024
    );
    let _ = child.kill();
    let _ = child.wait();
}

/// The hub alone, in this process: `serve-hub DIR [DATABASE_URL]`; prints its address.
fn serve_hub(dir: &str, db: Option<&str>) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let systems = vec![
            vanban_hub::SystemConfig { id: "tinh".into(), secret: "tinh-secret-0123456789".into(), agencies: vec![] },
            vanban_hub::SystemConfig { id: "huyen".into(), secret: "huyen-secret-012345678".into(), agencies: vec![] },
        ];
        let state = vanban_hub::HubState::open(vanban_hub::HubConfig::new(dir.into(), systems), db).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap());
        vanban_hub::serve(listener, state).await.unwrap();
    });
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    if args.first().map(String::as_str) == Some("serve-hub") {
        return serve_hub(&args[1], args.get(2).map(String::as_str));
    }
    let n: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let senders: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(16);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let pki =
        vanban_pki::TestPki::generate("Bench", vanban_pki::KeyAlgorithm::Rsa2048, chrono::Utc::now(), None).unwrap();
    let (cert, key) = pki.organisation(vanban_pki::SubjectInfo::new("UBND tỉnh Bình An")).unwrap();
    let pg = std::env::var("VANBAN_TEST_PG_URL").ok();
    println!("== hub end to end: send → list (long poll) → download → acknowledge, {senders} senders, 2 cores");
    // Attachment sizes in KB (VANBAN_HUB_BENCH_SIZES=10,1024,4096): the bigger ones get fewer packages.
    let sizes: Vec<usize> = std::env::var("VANBAN_HUB_BENCH_SIZES")
        .ok()
        .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10, 1024]);
    for size in sizes.into_iter().map(|kb| kb * 1024) {
        let count = if size <= 64 * 1024 { n } else { (n * 10 * 1024 / size).clamp(50, n) };
        let pkgs: Arc<Vec<Bytes>> = Arc::new((0..16).map(|i| Bytes::from(package(size, i, &key, &cert))).collect());
        rt.block_on(run("SQLite", None, count, senders, size, pkgs.clone()));
        match &pg {
            Some(url) => rt.block_on(run("PostgreSQL", Some(url), count, senders, size, pkgs)),
            None => println!("  PostgreSQL: VANBAN_TEST_PG_URL not set, skipped"),
        }
    }
}
