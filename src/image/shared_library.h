// Internal: codec libraries opened with dlopen on first use instead of being linked. A process
// that never meets a HEIF or TIFF file then neither maps libheif and libtiff nor what they pull
// in (the HEVC and AV1 decoders, libtiff's compressors): about 4 MB of peak RSS and two thirds
// of the start-up CPU time of `watermark` (src/image/README.md, Formats). The headers still give
// the functions' types, so every call goes through a typed pointer (decltype(&function)), checked
// by the compiler.
#pragma once

#include <string>

#include "common/status.h"

namespace image::internal {

// An opened shared library, never closed (the functions resolved from it live as long as the
// process). Copyable; thread-safe (dlsym is).
class SharedLibrary {
 public:
  // dlopen(soname, RTLD_NOW | RTLD_LOCAL). Internal when it cannot be loaded: the message
  // names the library, the package that provides it and dlerror()'s reason. Both strings must
  // outlive the object (string literals).
  static common::Result<SharedLibrary> Open(const char* soname, const char* package);

  // Resolves the exported function `name` into *fn, whose type the caller takes from the
  // library's header (decltype(&name)). Internal when the library lacks it (an older version).
  template <typename Fn>
  common::Status Bind(const char* name, Fn* fn) const {
    void* symbol = nullptr;
    DAT_RETURN_IF_ERROR(Symbol(name, &symbol));
    *fn = reinterpret_cast<Fn>(symbol);
    return common::Status::Ok();
  }

 private:
  SharedLibrary(void* handle, const char* soname, const char* package)
      : handle_(handle), soname_(soname), package_(package) {}
  common::Status Symbol(const char* name, void** symbol) const;

  void* handle_;
  const char* soname_;
  const char* package_;
};

// The table `Api` of a library's functions (see DAT_LIBRARY_API), loaded once per process on
// the first call and kept: later calls return the same table, or the same error (a library
// installed meanwhile is not seen until the process restarts); the arguments of the first call
// are the ones used. The error is Internal, "cannot decode <format>: " in front of
// SharedLibrary's message. Thread-safe (a function-local static).
template <typename Api>
common::Result<const Api*> LoadedApi(const char* soname, const char* package, const char* format) {
  static const common::Result<Api> loaded = [&]() -> common::Result<Api> {
    DAT_ASSIGN_OR_RETURN(SharedLibrary library, SharedLibrary::Open(soname, package));
    Api table;
    DAT_RETURN_IF_ERROR(Api::Bind(library, &table));
    return table;
  }();
  if (!loaded.ok()) return loaded.status().WithContext(std::string("cannot decode ") + format);
  return &*loaded;
}

}  // namespace image::internal

// Defines `struct Api`: for an X-macro list of a library's functions (LIST(X) expands to
// X(name) for each), one typed pointer `name` per function (decltype(&name), so the library's
// header checks every call) and `static common::Status Bind(const SharedLibrary&, Api*)`,
// which resolves them all.
#define DAT_LIBRARY_API(Api, LIST)                                                            \
  struct Api {                                                                                \
    static ::common::Status Bind(const ::image::internal::SharedLibrary& library, Api* api) { \
      LIST(DAT_LIBRARY_API_BIND)                                                              \
      return ::common::Status::Ok();                                                          \
    }                                                                                         \
    LIST(DAT_LIBRARY_API_MEMBER)                                                              \
  }
#define DAT_LIBRARY_API_MEMBER(name) decltype(&::name) name = nullptr;
#define DAT_LIBRARY_API_BIND(name) DAT_RETURN_IF_ERROR(library.Bind(#name, &api->name));
