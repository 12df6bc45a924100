"""The profile breakdown and the CPU per message, on made-up samples and runs."""

from __future__ import annotations

from pathlib import Path

from bench.profile import area, report, self_times
from bench.run import add_cpu_per_message

REPO = str(Path(__file__).resolve().parent.parent)
LOOP = "run (/usr/lib/python3.11/asyncio/runners.py:118)"
READ = f"data_received ({REPO}/chinwag/server/connection.py:90)"
PARSE = f"parse_line ({REPO}/chinwag/protocol/message.py:130)"
HANDLER = f"handle_privmsg ({REPO}/chinwag/server/commands/messaging.py:60)"
# py-spy's raw format: one stack a line, outermost frame first, then the sample count.
RAW = "\n".join(
    [
        f"{LOOP};{READ};{PARSE} 30",
        f"{LOOP};{READ};{HANDLER} 50",
        f"{LOOP};{READ} 10",
        f"{LOOP} 10",
        "garbage without a count",
    ]
)


def test_self_time_goes_to_the_innermost_frame() -> None:
    """Each sample counts for the function running, not for its callers; bad lines are skipped."""
    counts, total = self_times(RAW)
    assert total == 100
    assert counts[("parse_line", "chinwag/protocol/message.py")] == 30
    assert counts[("data_received", "chinwag/server/connection.py")] == 10
    assert counts[("run", "asyncio/runners.py")] == 10


def test_areas_follow_the_package_layout() -> None:
    """Files are summed by the part of chinwag they belong to."""
    assert area("chinwag/protocol/codec.py") == "protocol: codec and messages"
    assert area("chinwag/server/commands/messaging.py") == "server: handlers"
    assert area("asyncio/runners.py") == "event loop, kernel, runtime"
    assert area("json/decoder.py") == "other"


def test_report_shares_out_the_user_time_and_keeps_the_kernel_apart() -> None:
    """With 10 us per message, 20% in the kernel, the samples share out the other 8 us."""
    text = report(RAW, us_per_msg=10.0, kernel_share=0.2, top=3)
    assert "| kernel (system calls: reads, writes, epoll) | 2.00 | 20% |" in text
    assert "| server: handlers | 4.00 | 40% |" in text
    assert "| `handle_privmsg` | chinwag/server/commands/messaging.py | 4.00 | 40.0% |" in text
    assert "| `parse_line` | chinwag/protocol/message.py | 2.40 | 24.0% |" in text
    assert report("", 10.0, 0.0, 3) == "no samples\n"


def test_cpu_per_message_and_per_line() -> None:
    """Server CPU seconds over the load phase, per message sent and per line delivered."""
    record = {"server_cpu_s": 2.0, "sent": 400_000, "delivered": 4_000_000}
    add_cpu_per_message(record)
    assert record["server_us_per_msg"] == 5.0
    assert record["server_us_per_line"] == 0.5
    failed = {"errors": ["no server"]}
    add_cpu_per_message(failed)
    assert failed == {"errors": ["no server"]}


def test_report_per_client_for_the_arrival_scenarios() -> None:
    """The connect and join-storm scenarios are reported per arriving client."""
    text = report(RAW, us_per_msg=300.0, kernel_share=0.1, top=3, unit="client")
    assert "us per client" in text
    assert "| area | us/client | share |" in text
    assert "| kernel (system calls: reads, writes, epoll) | 30.00 | 10% |" in text
