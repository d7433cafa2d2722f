"""The State Synchronization Protocol, sans-IO: no sockets, no sleeps, no clock reads.

Callers pass the time in (`now`, seconds on a monotonic clock), feed received datagrams in and
take datagrams to send out. Nothing in this package imports trio.
"""
