"""The Energy tab: ports, live and history graphs, phantom-load alerts."""
