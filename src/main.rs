/// mimalloc instead of the system allocator: a request allocates and frees
/// many small objects on several threads (async workers, SQLite connection
/// threads), where glibc malloc contended on its arena locks.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    dxcp::cli::run()
}
