/*
 * What keepalived does to its own processes that Node.js has no call for:
 *
 *   lockMemory() -> slots          mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT):
 *                                  vrrp_no_swap / checker_no_swap. With MCL_ONFAULT
 *                                  (keepalived's flags too) a page is locked when it is
 *                                  first touched, so V8's large reservations are not
 *                                  filled at once. The kernel refuses MADV_DONTNEED (and
 *                                  MADV_FREE) on locked memory with EINVAL, and V8 aborts
 *                                  the process when returning pages that way fails (its
 *                                  OS::SetPermissions checks it: measured, the first code
 *                                  or heap pages freed after mlockall killed node with
 *                                  SIGTRAP). So the loaded objects' import slots of
 *                                  madvise() (node's own: V8 is linked into it) are first
 *                                  pointed at a wrapper that retries such a refusal as
 *                                  MADV_DONTNEED_LOCKED (Linux 5.18), which discards
 *                                  locked pages as V8 meant. Returns how many slots it
 *                                  pointed there.
 *   unlockMemory()                 munlockall()
 *   getScheduler(tid) -> [policy, priority]
 *                                  sched_getscheduler + sched_getparam of one thread
 *                                  (0: the calling one); policy 0 SCHED_OTHER, 1 FIFO, 2 RR
 *   setScheduler(tid, policy, priority)
 *                                  sched_setscheduler of one thread: Linux schedules
 *                                  threads, and the caller walks /proc/self/task, as
 *                                  chrt -a does, so V8's and libuv's threads follow
 *
 * A failing call throws an Error with `errno` (negated, as Node's) and `syscall`.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#define NAPI_VERSION 8
#include <node_api.h>

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <sched.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4
#endif
#ifndef MADV_DONTNEED_LOCKED
#define MADV_DONTNEED_LOCKED 24
#endif

/* libc's madvise, reached through this object's own import slot, which is never redirected */
static int (*const libc_madvise)(void *, size_t, int) = madvise;

static int locked_madvise(void *addr, size_t len, int advice) {
  int r = libc_madvise(addr, len, advice);
  if (r != 0 && errno == EINVAL && (advice == MADV_DONTNEED || advice == MADV_FREE)) r = libc_madvise(addr, len, MADV_DONTNEED_LOCKED);
  return r;
}

/* a dynamic entry's address: glibc has relocated most of them in place, the rest are relative to the object's base */
static uintptr_t dyn_addr(ElfW(Addr) base, ElfW(Addr) ptr) {
  return ptr < base ? base + ptr : ptr;
}

/* points every madvise import slot of one relocation table at locked_madvise */
static int redirect_in(ElfW(Addr) base, const ElfW(Rela) *rel, size_t size, const ElfW(Sym) *symtab, const char *strtab) {
  int n = 0;
  long page = sysconf(_SC_PAGESIZE);
  for (size_t i = 0; i < size / sizeof(ElfW(Rela)); i++) {
    unsigned type = ELF64_R_TYPE(rel[i].r_info);
    if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT) continue;
    const char *name = strtab + symtab[ELF64_R_SYM(rel[i].r_info)].st_name;
    if (strcmp(name, "madvise") != 0) continue;
    void **slot = (void **)(base + rel[i].r_offset);
    if (*slot == (void *)locked_madvise) continue;
    void *start = (void *)((uintptr_t)slot & ~(uintptr_t)(page - 1));
    /* a RELRO page is read-only once the object is loaded */
    if (mprotect(start, (size_t)page, PROT_READ | PROT_WRITE) != 0) continue;
    *slot = (void *)locked_madvise;
    mprotect(start, (size_t)page, PROT_READ);
    n++;
  }
  return n;
}

static int redirect_object(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  int *count = data;
  Dl_info self;
  /* this addon's own slot stays libc's */
  if (dladdr((void *)locked_madvise, &self) && self.dli_fname && info->dlpi_name && strcmp(info->dlpi_name, self.dli_fname) == 0) return 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    if (info->dlpi_phdr[i].p_type != PT_DYNAMIC) continue;
    const ElfW(Dyn) *dyn = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    uintptr_t jmprel = 0, rela = 0, symtab = 0, strtab = 0;
    size_t jmpsz = 0, relasz = 0;
    for (; dyn->d_tag != DT_NULL; dyn++) {
      switch (dyn->d_tag) {
        case DT_JMPREL: jmprel = dyn_addr(info->dlpi_addr, dyn->d_un.d_ptr); break;
        case DT_PLTRELSZ: jmpsz = dyn->d_un.d_val; break;
        case DT_RELA: rela = dyn_addr(info->dlpi_addr, dyn->d_un.d_ptr); break;
        case DT_RELASZ: relasz = dyn->d_un.d_val; break;
        case DT_SYMTAB: symtab = dyn_addr(info->dlpi_addr, dyn->d_un.d_ptr); break;
        case DT_STRTAB: strtab = dyn_addr(info->dlpi_addr, dyn->d_un.d_ptr); break;
        default: break;
      }
    }
    if (!symtab || !strtab) continue;
    if (jmprel) *count += redirect_in(info->dlpi_addr, (const ElfW(Rela) *)jmprel, jmpsz, (const ElfW(Sym) *)symtab, (const char *)strtab);
    if (rela) *count += redirect_in(info->dlpi_addr, (const ElfW(Rela) *)rela, relasz, (const ElfW(Sym) *)symtab, (const char *)strtab);
  }
  return 0;
}

static napi_value throw_errno(napi_env env, int err, const char *syscall) {
  char text[160];
  napi_value msg, error, errno_value, syscall_value;
  snprintf(text, sizeof text, "%s: %s", syscall, strerror(err));
  if (napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg) != napi_ok ||
      napi_create_error(env, NULL, msg, &error) != napi_ok ||
      napi_create_int32(env, -err, &errno_value) != napi_ok ||
      napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value) != napi_ok ||
      napi_set_named_property(env, error, "errno", errno_value) != napi_ok ||
      napi_set_named_property(env, error, "syscall", syscall_value) != napi_ok) {
    napi_throw_error(env, NULL, text);
    return NULL;
  }
  napi_throw(env, error);
  return NULL;
}

/* the int32 arguments of a call, or NULL with a TypeError thrown */
static napi_value int_args(napi_env env, napi_callback_info info, size_t want, int32_t *out, const char *usage) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < want) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
    return NULL;
  }
  for (size_t i = 0; i < want; i++) {
    if (napi_get_value_int32(env, argv[i], &out[i]) != napi_ok) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
      return NULL;
    }
  }
  napi_value ok;
  napi_get_boolean(env, true, &ok);
  return ok;
}

static napi_value js_lock(napi_env env, napi_callback_info info) {
  (void)info;
  int slots = 0;
  dl_iterate_phdr(redirect_object, &slots);
  if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0) return throw_errno(env, errno, "mlockall");
  napi_value out;
  if (napi_create_int32(env, slots, &out) != napi_ok) return NULL;
  return out;
}

static napi_value js_unlock(napi_env env, napi_callback_info info) {
  (void)info;
  if (munlockall() != 0) return throw_errno(env, errno, "munlockall");
  return NULL;
}

static napi_value js_get(napi_env env, napi_callback_info info) {
  int32_t a[1];
  if (int_args(env, info, 1, a, "getScheduler(tid)") == NULL) return NULL;
  int policy = sched_getscheduler(a[0]);
  if (policy < 0) return throw_errno(env, errno, "sched_getscheduler");
  struct sched_param sp;
  if (sched_getparam(a[0], &sp) != 0) return throw_errno(env, errno, "sched_getparam");
  napi_value out, p, prio;
  if (napi_create_array_with_length(env, 2, &out) != napi_ok ||
      napi_create_int32(env, policy & ~SCHED_RESET_ON_FORK, &p) != napi_ok ||
      napi_create_int32(env, sp.sched_priority, &prio) != napi_ok ||
      napi_set_element(env, out, 0, p) != napi_ok ||
      napi_set_element(env, out, 1, prio) != napi_ok)
    return NULL;
  return out;
}

static napi_value js_set(napi_env env, napi_callback_info info) {
  int32_t a[3];
  if (int_args(env, info, 3, a, "setScheduler(tid, policy, priority)") == NULL) return NULL;
  struct sched_param sp = {.sched_priority = a[2]};
  if (sched_setscheduler(a[0], a[1], &sp) != 0) return throw_errno(env, errno, "sched_setscheduler");
  return NULL;
}

napi_value alived_process_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"lockMemory", NULL, js_lock, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unlockMemory", NULL, js_unlock, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getScheduler", NULL, js_get, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setScheduler", NULL, js_set, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
