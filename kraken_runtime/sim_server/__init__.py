"""The local Kraken-compatible exchange's network side (thin I/O adapters around core.sim).

`start_sim(...)` (core.sim_server.app) runs it in-process; `kraken-runtime sim` runs it as a command.
"""
