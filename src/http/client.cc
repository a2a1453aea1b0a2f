// CurlHttpClient: libcurl easy handles, one per (client, thread), reused across calls so
// that curl's per-handle connection cache gives keep-alive. DNS results and TLS sessions
// are shared between a client's handles through a CURLSH with locks. The connection cache
// stays per handle (so per thread): no lock is taken around connection reuse, and a thread's
// calls always find their own warm connection.
#include "http/client.h"

#include <curl/curl.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "common/mutex.h"
#include "common/strings.h"

namespace http {
namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// The share handle of one client. Kept alive by the client and by every easy handle that
// uses it, since thread-local easy handles may outlive the client.
struct Share {
  Share() {
    handle = curl_share_init();
    curl_share_setopt(handle, CURLSHOPT_LOCKFUNC, &Share::Lock);
    curl_share_setopt(handle, CURLSHOPT_UNLOCKFUNC, &Share::Unlock);
    curl_share_setopt(handle, CURLSHOPT_USERDATA, this);
    curl_share_setopt(handle, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(handle, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  }
  ~Share() { curl_share_cleanup(handle); }
  Share(const Share&) = delete;
  Share& operator=(const Share&) = delete;

  // curl pairs these two callbacks itself: the analysis cannot follow a lock across them.
  static void Lock(CURL*, curl_lock_data data, curl_lock_access,
                   void* user) NO_THREAD_SAFETY_ANALYSIS {
    static_cast<Share*>(user)->mutexes[data % CURL_LOCK_DATA_LAST].Lock();
  }
  static void Unlock(CURL*, curl_lock_data data, void* user) NO_THREAD_SAFETY_ANALYSIS {
    static_cast<Share*>(user)->mutexes[data % CURL_LOCK_DATA_LAST].Unlock();
  }

  CURLSH* handle = nullptr;
  common::Mutex mutexes[CURL_LOCK_DATA_LAST];
  std::atomic<bool> client_alive{true};
};

// This thread's easy handles, one per client id. Entries of destroyed clients are swept on
// the next call and at thread exit.
struct EasyEntry {
  CURL* easy = nullptr;
  std::shared_ptr<Share> share;  // cleaned up after the easy handle
};

class ThreadHandles {
 public:
  ~ThreadHandles() {
    for (auto& [id, entry] : entries_) curl_easy_cleanup(entry.easy);
  }
  CURL* Get(uint64_t client_id, const std::shared_ptr<Share>& share) {
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (!it->second.share->client_alive.load()) {
        curl_easy_cleanup(it->second.easy);
        it = entries_.erase(it);
      } else {
        ++it;
      }
    }
    auto& entry = entries_[client_id];
    if (entry.easy == nullptr) {
      entry.easy = curl_easy_init();
      entry.share = share;
    }
    return entry.easy;
  }

 private:
  std::unordered_map<uint64_t, EasyEntry> entries_;
};

std::atomic<uint64_t> next_curl_client_id{1};

// State of one transfer, reached from curl's callbacks.
struct Transfer {
  const ClientRequest* request = nullptr;
  // Request body source.
  std::string_view memory_body;
  size_t memory_offset = 0;
  FILE* file = nullptr;
  // Response.
  Response response;
  bool over_limit = false;
  bool sink_stopped = false;
};

size_t ReadBody(char* buffer, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t want = size * count;
  if (t->file != nullptr) {
    size_t n = std::fread(buffer, 1, want, t->file);
    if (n == 0 && std::ferror(t->file)) return CURL_READFUNC_ABORT;
    return n;
  }
  size_t n = std::min(want, t->memory_body.size() - t->memory_offset);
  std::memcpy(buffer, t->memory_body.data() + t->memory_offset, n);
  t->memory_offset += n;
  return n;
}

// Rewinds the body when curl must send it again (a reused connection died under us).
int SeekBody(void* user, curl_off_t offset, int origin) {
  auto* t = static_cast<Transfer*>(user);
  if (origin != SEEK_SET || offset < 0) return CURL_SEEKFUNC_CANTSEEK;
  if (t->file != nullptr) {
    return fseeko(t->file, static_cast<off_t>(offset), SEEK_SET) == 0 ? CURL_SEEKFUNC_OK
                                                                      : CURL_SEEKFUNC_FAIL;
  }
  if (static_cast<size_t>(offset) > t->memory_body.size()) return CURL_SEEKFUNC_FAIL;
  t->memory_offset = static_cast<size_t>(offset);
  return CURL_SEEKFUNC_OK;
}

size_t WriteBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * count;
  if (t->request->body_sink) {
    if (!t->request->body_sink(std::string_view(data, n))) {
      t->sink_stopped = true;
      return 0;
    }
    return n;
  }
  if (t->response.body.size() + n > t->request->max_response_bytes) {
    t->over_limit = true;
    return 0;
  }
  t->response.body.append(data, n);
  return n;
}

// Header lines of every response curl sees (interim 1xx included); a status line starts a
// new set, so the last response's headers remain.
size_t WriteHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * count;
  std::string_view line(data, n);
  if (common::StartsWith(line, "HTTP/")) {
    t->response.headers = Headers();
    return n;
  }
  line = common::Trim(line);
  if (line.empty()) return n;
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  t->response.headers.Add(std::string(common::Trim(line.substr(0, colon))),
                          std::string(common::Trim(line.substr(colon + 1))));
  return n;
}

// CURLOPT_XFERINFOFUNCTION for a cancellable request: non-zero stops the transfer.
int CancelProgress(void* flag, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(flag)->load() ? 1 : 0;
}

// The URL without its query, for error messages (presigned queries carry credentials).
std::string UrlForMessage(const std::string& url) { return url.substr(0, url.find('?')); }

common::Status MapCurlError(CURLcode code, const Transfer& t, const std::string& what,
                            const char* detail) {
  std::string message = what + ": " + (detail[0] ? detail : curl_easy_strerror(code));
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return common::DeadlineExceeded(message);
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return common::InvalidArgument(message);
    case CURLE_WRITE_ERROR:
      if (t.over_limit) return common::ResourceExhausted(message + " (response body over limit)");
      if (t.sink_stopped)
        return common::Status(common::Code::kAborted, message + " (sink stopped)");
      return common::Internal(message);
    case CURLE_READ_ERROR:
    case CURLE_ABORTED_BY_CALLBACK:
      return common::Internal(message);
    case CURLE_OUT_OF_MEMORY:
      return common::ResourceExhausted(message);
    default:
      // Refused, reset, DNS failure, TLS failure, peer closed early: transport trouble that
      // a retry may cure.
      return common::Unavailable(message);
  }
}

// Tests only: DAT_TEST_ONLY_CONNECT_TO="HOST:PORT:ADDR:PORT[,…]" sends connections for the
// real host names (sqs.us-west-2.amazonaws.com:443) to a local server, with the URL, the
// Host header and TLS (SNI, certificate name) unchanged, as curl's --connect-to does. Read
// once; nullptr when unset. Never set it outside a test.
curl_slist* TestOnlyConnectTo() {
  static curl_slist* const list = [] {
    curl_slist* l = nullptr;
    const char* value = std::getenv("DAT_TEST_ONLY_CONNECT_TO");
    if (value == nullptr) return l;
    for (const std::string& entry : common::Split(value, ',')) {
      if (!entry.empty()) l = curl_slist_append(l, entry.c_str());
    }
    return l;
  }();
  return list;
}

}  // namespace

std::vector<common::Result<Response>> HttpClient::SendAll(
    const std::vector<ClientRequest>& requests) {
  std::vector<common::Result<Response>> results;
  results.reserve(requests.size());
  for (const auto& r : requests) results.push_back(Send(r));
  return results;
}

class CurlHttpClient::Impl {
 public:
  Impl() : id_(next_curl_client_id.fetch_add(1)), share_(std::make_shared<Share>()) {}
  ~Impl() { share_->client_alive = false; }

  common::Result<Response> Send(const ClientRequest& request);

 private:
  CURL* Handle() {
    thread_local ThreadHandles handles;
    return handles.Get(id_, share_);
  }

  const uint64_t id_;
  std::shared_ptr<Share> share_;
};

common::Result<Response> CurlHttpClient::Impl::Send(const ClientRequest& request) {
  const std::string what = request.method + " " + UrlForMessage(request.url);
  CURL* easy = Handle();
  if (easy == nullptr) return common::Internal(what + ": curl_easy_init failed");
  curl_easy_reset(easy);  // options only: the connection and DNS caches survive

  Transfer t;
  t.request = &request;
  curl_off_t body_size = -1;
  bool has_body = false;
  if (!request.body_file.empty()) {
    t.file = std::fopen(request.body_file.c_str(), "rb");
    if (t.file == nullptr) {
      return common::NotFound(what + ": cannot open body file " + request.body_file);
    }
    struct stat st {};
    if (fstat(fileno(t.file), &st) == 0) body_size = st.st_size;
    has_body = true;
  } else {
    t.memory_body = request.body;
    body_size = static_cast<curl_off_t>(request.body.size());
    has_body = !request.body.empty() || request.method == "PUT" || request.method == "POST" ||
               request.method == "PATCH";
  }
  struct Cleanup {
    Transfer& t;
    curl_slist*& headers;
    ~Cleanup() {
      if (t.file != nullptr) std::fclose(t.file);
      curl_slist_free_all(headers);
    }
  };
  curl_slist* header_list = nullptr;
  Cleanup cleanup{t, header_list};

  char error_buffer[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_SHARE, share_->handle);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
  if (!request.ca_file.empty()) {
    curl_easy_setopt(easy, CURLOPT_CAINFO, request.ca_file.c_str());
  } else if (const char* bundle = std::getenv("CURL_CA_BUNDLE"); bundle != nullptr && *bundle) {
    curl_easy_setopt(easy, CURLOPT_CAINFO, bundle);  // as the curl tool honours it
  }
  if (curl_slist* connect_to = TestOnlyConnectTo()) {
    curl_easy_setopt(easy, CURLOPT_CONNECT_TO, connect_to);
  }
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(request.connect_timeout.count()));
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));

  if (request.method == "HEAD") {
    curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
  } else if (has_body) {
    // Every body goes through the read callback, so memory and file bodies behave alike
    // and curl adds no form Content-Type as it would for POSTFIELDS.
    curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(easy, CURLOPT_READFUNCTION, &ReadBody);
    curl_easy_setopt(easy, CURLOPT_READDATA, &t);
    curl_easy_setopt(easy, CURLOPT_SEEKFUNCTION, &SeekBody);
    curl_easy_setopt(easy, CURLOPT_SEEKDATA, &t);
    bool chunked = common::EqualsIgnoreCase(
        common::Trim(request.headers.GetOr("Transfer-Encoding", "")), "chunked");
    if (!chunked && body_size >= 0) {
      curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE, body_size);
    }
    if (request.method != "PUT") {
      curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
  } else if (request.method != "GET") {
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  for (const auto& [name, value] : request.headers.entries()) {
    // "Name;" is curl's way to send a header with an empty value.
    std::string line = value.empty() ? name + ";" : name + ": " + value;
    header_list = curl_slist_append(header_list, line.c_str());
  }
  if (!request.headers.Has("Expect")) {
    header_list = curl_slist_append(header_list, "Expect:");  // no 100-continue round trip
  }
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, header_list);

  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &WriteBody);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &WriteHeader);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &t);

  if (request.cancel != nullptr) {
    // libcurl asks at least once a second, also while nothing arrives.
    curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, &CancelProgress);
    curl_easy_setopt(easy, CURLOPT_XFERINFODATA, request.cancel);
  }
  CURLcode code = curl_easy_perform(easy);
  if (code == CURLE_ABORTED_BY_CALLBACK && request.cancel != nullptr && request.cancel->load()) {
    return common::Status(common::Code::kAborted, what + ": cancelled");
  }
  if (code != CURLE_OK) return MapCurlError(code, t, what, error_buffer);
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  t.response.status = static_cast<int>(status);
  return std::move(t.response);
}

CurlHttpClient::CurlHttpClient() {
  GlobalInit();
  impl_ = std::make_unique<Impl>();
}

CurlHttpClient::~CurlHttpClient() = default;

common::Result<Response> CurlHttpClient::Send(const ClientRequest& request) {
  return impl_->Send(request);
}

HttpClient& DefaultHttpClient() {
  // Never destroyed: thread-local handles of other threads may still refer to it at exit.
  static CurlHttpClient* client = new CurlHttpClient();
  return *client;
}

}  // namespace http
