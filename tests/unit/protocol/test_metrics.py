"""Prometheus text format: help and type lines, labels escaped, numbers as Prometheus reads them."""

from kiosk.protocol.metrics import Metric, render


def test_metrics_render_in_the_text_exposition_format() -> None:
    text = render([
        Metric("kiosk_messages_total", "counter", "Messages accepted.").add(12),
        Metric("kiosk_refused_logins_total", "counter", "Refused logins by reason.")
        .add(2, reason="wrong token").add(1, reason='odd "quoted"\\reason'),
        Metric("kiosk_writer_backlog", "gauge", "Rows waiting.").add(0.5).add(None),
    ])
    assert text == (
        "# HELP kiosk_messages_total Messages accepted.\n# TYPE kiosk_messages_total counter\n"
        "kiosk_messages_total 12\n"
        "# HELP kiosk_refused_logins_total Refused logins by reason.\n# TYPE kiosk_refused_logins_total counter\n"
        'kiosk_refused_logins_total{reason="wrong token"} 2\n'
        'kiosk_refused_logins_total{reason="odd \\"quoted\\"\\\\reason"} 1\n'
        "# HELP kiosk_writer_backlog Rows waiting.\n# TYPE kiosk_writer_backlog gauge\nkiosk_writer_backlog 0.5\n")
