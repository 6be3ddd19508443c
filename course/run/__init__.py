"""``make course``: run every notebook headless, resume, report (:mod:`course.run.runner`)."""
