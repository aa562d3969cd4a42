"""The local Kraken-compatible exchange's model: instruments, the matching engine, the order-flow
generator and the exchange facade (core.sim.exchange.SimExchange). Pure: no clock, no I/O."""
