"""pykka actors: wiring only (mailboxes, timers, sockets' reader threads); logic lives in core/."""
