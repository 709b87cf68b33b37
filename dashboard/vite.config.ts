// The dashboard is served by the gateway at /app/. `npm run dev` serves it with hot reload and
// forwards /v1 to a running gateway (LEADMESH_GATEWAY_URL, default http://127.0.0.1:8080).
import { defineConfig } from "vite";

const gateway = process.env.LEADMESH_GATEWAY_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  base: "/app/",
  build: { outDir: "dist", emptyOutDir: true, assetsInlineLimit: 0, modulePreload: { polyfill: false } },
  server: { proxy: { "/v1": gateway, "/healthz": gateway } },
});
