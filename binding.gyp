{
  "targets": [
    {
      "target_name": "agentkernel_vmm",
      "conditions": [
        ["OS=='linux' and target_arch=='x64'", {
          "sources": [
            "native/vmm/addon.c",
            "native/vmm/image.c",
            "native/vmm/kvm.c",
            "native/vmm/layout.c",
            "native/vmm/runner.c",
            "native/vmm/snapshot.c",
            "native/vmm/vm.c"
          ],
          "include_dirs": ["native/common", "native/vmm"],
          "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden"],
          "cflags!": ["-fno-exceptions"],
          "libraries": ["-lpthread", "-lrt"]
        }]
      ]
    }
  ]
}
