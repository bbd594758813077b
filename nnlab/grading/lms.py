"""Submission times read exactly from an LMS download (`nbgrader zip_collect`).

nbgrader's own collector hands the `timestamp` group of a file name to dateutil, which guesses:
"2026-12-04-17-45-10" (Blackboard's form) becomes 17:00 at UTC-10 (minutes dropped, seconds read as
a time zone), a time about 10 hours off. This
collector reads it with a stated format in the LMS's stated time zone, and refuses a name whose
time does not fit. A time in the future is reported and not used (the student is graded with no
submission time, which the status says), and a local time that a daylight-saving change makes
ambiguous or skipped is read as the earlier instant, in the student's favour, and reported.
"""
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from nbgrader.plugins import FileNameCollectorPlugin
from traitlets import Unicode

# Canvas names a resubmitted file "regularization-1.ipynb", "regularization-2.ipynb", ...
CANVAS_RESUBMISSION = re.compile(r"-\d+(?=\.ipynb$)")
# How far ahead of this machine's clock an LMS's clock may be before a time counts as future.
CLOCK_SKEW = timedelta(minutes=5)


class LmsTimeError(ValueError):
    """A submission time that cannot be read exactly."""


class LmsFileNameCollector(FileNameCollectorPlugin):
    """nbgrader's file-name collector, with submission times read exactly (see the module)."""

    timestamp_format = Unicode("%Y-%m-%d-%H-%M-%S", help="how the `timestamp` group writes a time, "
                               "as for datetime.strptime (with %z if the name holds an offset)"
                               ).tag(config=True)
    timezone = Unicode("", help="the LMS's time zone (IANA name, e.g. 'Asia/Shanghai') for times "
                       "without an offset; required when the names hold such times").tag(config=True)

    def collect(self, submitted_file):
        info = super().collect(submitted_file)
        if not info:
            return info
        info["file_id"] = CANVAS_RESUBMISSION.sub("", info["file_id"])
        if info.get("timestamp"):
            info["timestamp"] = self.read_time(info["timestamp"], submitted_file)
        return info

    def read_time(self, text, submitted_file, now=None):
        """The aware UTC time `text` stands for; None (reported) when it lies in the future.
        Raises LmsTimeError when it does not fit the format or no time zone is set."""
        try:
            moment = datetime.strptime(text, self.timestamp_format)
        except ValueError:
            raise LmsTimeError(f"{submitted_file}: the submission time {text!r} does not match "
                               f"c.LmsFileNameCollector.timestamp_format = {self.timestamp_format!r}: "
                               f"set the format the LMS uses") from None
        if moment.tzinfo is None:
            moment = self._localize(moment, text, submitted_file)
        moment = moment.astimezone(timezone.utc)
        if moment > (now or datetime.now(timezone.utc)) + CLOCK_SKEW:
            self.log.error("%s: the submission time %s (%s UTC) is in the future: not used; the "
                           "student is graded without a submission time", submitted_file, text,
                           moment.strftime("%Y-%m-%d %H:%M:%S"))
            return None
        return moment

    def _localize(self, moment, text, submitted_file):
        if not self.timezone:
            raise LmsTimeError(f"{submitted_file}: the submission time {text!r} has no UTC offset: "
                               f"set the LMS's time zone, e.g. c.LmsFileNameCollector.timezone = "
                               f"'Asia/Shanghai'")
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise LmsTimeError(f"c.LmsFileNameCollector.timezone = {self.timezone!r} is no time zone "
                               f"(an IANA name, e.g. 'Europe/Berlin')") from None
        first, second = (moment.replace(tzinfo=zone, fold=fold) for fold in (0, 1))
        if first.utcoffset() != second.utcoffset():  # a daylight-saving change
            earlier = min(first, second, key=lambda m: m.astimezone(timezone.utc))
            self.log.warning("%s: the submission time %s is ambiguous or skipped in %s (a "
                             "daylight-saving change): read as the earlier instant, %s UTC",
                             submitted_file, text, self.timezone,
                             earlier.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S"))
            return earlier
        return first
