fn main() -> anyhow::Result<()> {
    dxcp::cli::run()
}
