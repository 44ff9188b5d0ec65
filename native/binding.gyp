{
  "targets": [
    {
      "target_name": "alived_packet",
      "sources": ["packet_socket.c", "vrrp_recv.c", "timer.c", "polled.c", "process.c", "signal.c", "raw_socket.c", "notify.c"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
