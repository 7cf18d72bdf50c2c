// The baseline of the ingest benchmark: a minimal Probot app that verifies signatures
// and filters issue comments on their body, as runners-bot does before any GitHub call.
import { createServer } from "node:http";
import { Probot, createNodeMiddleware } from "probot";

const probot = new Probot({
  appId: 1,
  privateKey: process.env.PRIVATE_KEY,
  secret: process.env.WEBHOOK_SECRET,
  logLevel: "warn",
});
let commands = 0;
const appFn = (app) => {
  app.on("issue_comment.created", async (context) => {
    if (context.payload.comment.body.includes("/runners")) commands += 1;
  });
};
const middleware = await createNodeMiddleware(appFn, { probot, webhooksPath: "/api/github/webhooks" });
createServer((req, res) => {
  middleware(req, res, () => {
    res.writeHead(404);
    res.end();
  });
}).listen(Number(process.env.PORT), "127.0.0.1", () => console.log("probot ready"));
