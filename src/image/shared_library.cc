#include "image/shared_library.h"

#include <dlfcn.h>

#include <string>

namespace image::internal {

common::Result<SharedLibrary> SharedLibrary::Open(const char* soname, const char* package) {
  void* handle = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* reason = dlerror();
    return common::Internal(std::string(soname) + " cannot be loaded (install the package " +
                            package + "): " + (reason != nullptr ? reason : "dlopen failed"));
  }
  return SharedLibrary(handle, soname, package);
}

common::Status SharedLibrary::Symbol(const char* name, void** symbol) const {
  dlerror();  // clears an earlier error
  *symbol = dlsym(handle_, name);
  if (*symbol == nullptr) {
    const char* reason = dlerror();
    return common::Internal(std::string(soname_) + " lacks " + name + " (the package " + package_ +
                            " is too old): " + (reason != nullptr ? reason : "no such symbol"));
  }
  return common::Status::Ok();
}

}  // namespace image::internal
