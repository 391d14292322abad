from django.conf import settings

from .errors import problem_response


class RequestSizeLimitMiddleware:
    """413 in the API's error shape for bodies over DATA_UPLOAD_MAX_MEMORY_SIZE (MAX_UPLOAD_REQUEST_BYTES
    for a multipart upload).

    DRF's parsers read the request stream themselves, which skips Django's own size check, so
    without this an oversized JSON body would be read whole into memory.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        # A file upload (the content library's: up to 20 MB, WeCom's largest) has a limit of its own:
        # Django's multipart parser streams files to disk and checks the form's other fields itself.
        if request.META.get("CONTENT_TYPE", "").startswith("multipart/form-data"):
            limit = settings.MAX_UPLOAD_REQUEST_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return problem_response(400, "bad_request", "Invalid Content-Length header.")
        if limit is not None and length > limit:
            return problem_response(413, "payload_too_large", f"Request bodies are limited to {limit} bytes.")
        return self.get_response(request)
